"""The evaluation harness on tiny streams: loaders, embedding cache, replay, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.common.errors import InvalidInput
from services.common.model import OnlineClassifier
from services.common.selection import make_strategy
from services.eval.__main__ import main
from services.eval.data import load_items, order_stream
from services.eval.embeddings import EmbeddingCache, default_cache
from services.eval.replay import replay
from tests.fakes import HashingEncoder

WORDS = {"space": "rocket orbit launch nasa moon", "hockey": "puck goal ice team season",
         "food": "bread flour yeast oven loaf"}


def corpus(n: int, seed: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = list(WORDS)[i % 3]
        words = [*rng.choice(WORDS[label].split(), size=3).tolist(), f"w{rng.integers(50)}"]
        rows.append({"body": " ".join(words), "y": label, "ts": 1000 - i})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_and_csv_with_custom_fields_and_time_order(tmp_path):
    rows = corpus(9, seed=0)
    items = load_items(write_jsonl(tmp_path / "s.jsonl", rows), "body", "y", "ts")
    assert [it.label for it in items] == [r["y"] for r in rows]
    # Timestamps run backwards here: time order reverses the file.
    assert [it.text for it in order_stream(items, seed=0)] == [r["body"] for r in rows[::-1]]
    csv_path = tmp_path / "s.csv"
    csv_path.write_text("body,y\n" + "".join(f'"{r["body"]}",{r["y"]}\n' for r in rows))
    assert [it.text for it in load_items(csv_path, "body", "y")] == [r["body"] for r in rows]
    # Without timestamps: a seeded shuffle, the same for the same seed.
    plain = load_items(csv_path, "body", "y")
    assert order_stream(plain, 1) == order_stream(plain, 1) != order_stream(plain, 2)


@pytest.mark.parametrize(("content", "message"), [
    ('{"text": "a"}\n', "label"),
    ('{"text": "", "label": "x"}\n', "text"),
    ("not json\n", "not JSON"),
    ("[1, 2]\n", "JSON object"),
    ("", "no rows"),
])
def test_bad_streams_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=message):
        load_items(path)


def test_embeddings_are_computed_once_per_model_and_text(tmp_path):
    encoder = HashingEncoder()
    cache = EmbeddingCache(tmp_path, "fake-model", shard_every=4)
    texts = [f"text {i}" for i in range(10)]
    first = cache.get(texts, encoder.encode, batch_size=3, progress=False)
    assert sum(encoder.calls) == 10
    again = EmbeddingCache(tmp_path, "fake-model")  # a later run: read from disk
    assert np.array_equal(again.get(texts + texts[:2], None, progress=False)[:10], first)
    assert sum(encoder.calls) == 10
    other = EmbeddingCache(tmp_path, "another-model")
    with pytest.raises(LookupError):
        other.get(texts, None, progress=False)


def test_replay_counts_labels_delays_them_and_scores_every_item():
    rows = corpus(300, seed=1)
    encoder = HashingEncoder()
    X = encoder.encode([str(r["body"]) for r in rows])
    y = [str(r["y"]) for r in rows]
    full = replay(X, y, X[:60], y[:60], make_strategy("full", 1.0), OnlineClassifier(),
                  checkpoints=3)
    assert full.labels_used == 300 and full.prequential_accuracy > 0.8
    assert full.holdout_accuracy > 0.9 and len(full.curve) == 4
    late = replay(X, y, X[:60], y[:60], make_strategy("full", 1.0), OnlineClassifier(),
                  label_delay=100)
    # Every label still arrives (the oracle answers after the stream too), but 100 items were
    # predicted with no model at all, so prequential accuracy drops.
    assert late.labels_used == 300
    assert late.prequential_accuracy < full.prequential_accuracy - 0.25
    some = replay(X, y, X[:60], y[:60], make_strategy("default", 0.1, seed=0),
                  OnlineClassifier())
    assert 0 < some.labels_used <= 0.1 * (300 + 100)


def test_cli_end_to_end_from_cached_embeddings(tmp_path, capsys):
    stream = write_jsonl(tmp_path / "stream.jsonl", corpus(240, seed=2))
    holdout = write_jsonl(tmp_path / "holdout.jsonl", corpus(60, seed=3))
    cache, _ = default_cache(tmp_path / "emb")
    texts = [str(r["body"]) for r in corpus(240, 2) + corpus(60, 3)]
    cache.get(texts, HashingEncoder(dim=384).encode, progress=False)  # no real encoder needed
    out = tmp_path / "out.json"
    code = main(["--stream", str(stream), "--holdout", str(holdout), "--text-field", "body",
                 "--label-field", "y", "--budgets", "0.05,0.2", "--strategies",
                 "default,random,full", "--seeds", "2", "--json", str(out), "--cache-dir",
                 str(tmp_path / "emb"), "--plot", str(tmp_path / "curve.png"), "--quiet"])
    assert code == 0
    data = json.loads(out.read_text())
    assert set(data["results"]) == {"default", "random", "full"}
    assert set(data["results"]["default"]) == {"0.05", "0.2"} and set(data["results"]["full"]) \
        == {"1"}
    cell = data["results"]["default"]["0.2"]
    for key in ("labels_used", "holdout_accuracy", "prequential_accuracy"):
        assert set(cell[key]) == {"mean", "sd"}
    assert len(cell["runs"]) == 2
    assert data["results"]["full"]["1"]["labels_used"]["mean"] == 240
    assert (tmp_path / "curve.png").stat().st_size > 1000
    assert "default" in capsys.readouterr().out


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    stream = write_jsonl(tmp_path / "s.jsonl", corpus(5, 0))
    with pytest.raises(SystemExit):
        main(["--stream", str(stream), "--holdout", str(stream), "--budgets", "0.1,2",
              "--json", str(tmp_path / "o.json")])
    with pytest.raises(SystemExit):
        main(["--stream", str(stream), "--holdout", str(stream), "--strategies", "nope",
              "--json", str(tmp_path / "o.json")])
    assert main(["--stream", str(tmp_path / "missing.jsonl"), "--holdout", str(stream),
                 "--json", str(tmp_path / "o.json")]) == 2
    assert "no such file" in capsys.readouterr().err
