"""README's settings table is generated from the settings classes and must match them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.cli import settings_table as st


class _Example(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALSTREAM_")

    # Micro-batching: at most batch_size texts, waiting wait_ms for company.
    batch_size: int = 32
    wait_ms: float = 0.0
    # Unrelated, with its own comment.
    other: int = Field(default=1, description="the description wins")
    loner: int = 3
    # k annotators per item.
    votes_needed: int = 1
    votes_scope: str = "all"
    unrelated_after: int = 0


def test_comment_blocks_and_descriptions_become_meanings():
    notes = st.comments(_Example)
    assert notes["batch_size"].startswith("Micro-batching")
    assert notes["wait_ms"] == "see batch_size"  # named by the block's comment
    assert "loner" not in notes  # neither commented nor named: no invented meaning
    assert notes["votes_scope"] == "see votes_needed"  # right under it, same family
    assert "unrelated_after" not in notes


def test_readme_table_matches_the_settings_classes():
    readme = st.README.read_text(encoding="utf-8")
    assert st.splice(readme, st.render()) == readme, (
        "README.md's settings table is stale: run "
        "`python -m services.cli.settings_table --write`")


def test_every_alstream_setting_is_listed_once_with_a_meaning():
    rows = st.collect()
    envs = [r.env for r in rows]
    assert len(envs) == len(set(envs))
    expected = {
        f"{cls.model_config.get('env_prefix')}{name}".upper()
        for _, cls in st.settings_classes() for name in cls.model_fields
    }
    assert set(envs) == expected
    assert {"ALSTREAM_HTTP_HOST", "ALSTREAM_LABEL_BUDGET", "ALSTREAM_INGEST_PORT"} <= expected
    missing = [r.env for r in rows if not r.meaning.strip()]
    assert missing == [], (f"settings without a meaning: {missing}; add a comment above the "
                           "field (or Field(description=...)) saying why it exists")


def test_per_service_defaults_are_shown_per_service():
    row = next(r for r in st.collect() if r.env == "ALSTREAM_HTTP_PORT")
    assert row.defaults["ingest"] == "8001" and row.defaults["trainer"] == "8004"
    assert "ingest `8001`" in row.default_cell()
