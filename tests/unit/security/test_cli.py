"""The key CLI's refusals (no admin key, memory store) and `generate`; create, list and revoke on
Redis: tests/integration/test_keys_cli.py."""

from __future__ import annotations

import pytest

from services.common.auth.cli import main


def test_generate_prints_a_long_random_secret(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate"]) == 0
    first = capsys.readouterr().out.strip()
    main(["generate"])
    assert len(first) >= 48 and first != capsys.readouterr().out.strip()


def test_with_the_memory_store_it_points_to_url(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ALSTREAM_STORE", "memory")
    assert main(["list"]) == 1
    assert "--url" in capsys.readouterr().err


def test_url_mode_needs_an_admin_key(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ALSTREAM_API_KEY", raising=False)
    assert main(["--url", "http://127.0.0.1:1", "list"]) == 1
    assert "admin key" in capsys.readouterr().err
