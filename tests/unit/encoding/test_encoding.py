from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.common import encoding
from services.common.encoding import onnx_export, resolve_backend
from services.common.encoding.base import Tokenized
from tests.fakes import HashingEncoder


def test_auto_picks_onnx_on_cpu_and_torch_on_cuda(monkeypatch):
    monkeypatch.setattr(encoding, "cuda_available", lambda: False)
    assert resolve_backend("auto") == ("onnx", "cpu")
    assert resolve_backend("torch") == ("torch", "cpu")
    monkeypatch.setattr(encoding, "cuda_available", lambda: True)
    assert resolve_backend("auto") == ("torch", "cuda")
    assert resolve_backend("onnx") == ("onnx", "cpu")  # onnx is CPU-only: never sent to CUDA
    assert resolve_backend("auto", "cpu") == ("onnx", "cpu")


def test_bad_backend_choices_are_clear_errors():
    with pytest.raises(ValueError, match="unknown encoder backend 'tf'"):
        resolve_backend("tf")
    with pytest.raises(ValueError, match="cpu only"):
        resolve_backend("onnx", "cuda")


def test_default_steps_carry_raw_text():
    enc = HashingEncoder(dim=8)
    items = enc.tokenize(["a b c", "d"])
    assert items == [Tokenized("a b c", 5), Tokenized("d", 3)]
    assert enc.run(enc.collate(items)).shape == (2, 8)


@pytest.fixture
def fake_model(tmp_path: Path) -> Path:
    model = tmp_path / "minilm"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 8}')
    (model / "model.safetensors").write_bytes(b"weights-v1")
    return model


@pytest.fixture
def builds(monkeypatch) -> list[Path]:
    """Replace the (slow) export with one writing a small file and its manifest."""
    calls: list[Path] = []

    def fake_build(model_path: Path, target: Path) -> None:
        calls.append(target)
        (target / onnx_export.ARTIFACT).write_bytes(b"onnx-bytes-%d" % len(calls))
        digest = onnx_export.sha256_file(target / onnx_export.ARTIFACT)
        (target / onnx_export.MANIFEST).write_text(
            json.dumps({"recipe": onnx_export.RECIPE, "sha256": digest}))

    monkeypatch.setattr(onnx_export, "_build", fake_build)
    return calls


def test_artifact_is_built_once_and_reused(fake_model, tmp_path, builds):
    first = onnx_export.ensure_artifact(fake_model, tmp_path / "cache")
    again = onnx_export.ensure_artifact(fake_model, tmp_path / "cache")
    assert first == again and first.read_bytes() == b"onnx-bytes-1"
    assert len(builds) == 1


def test_a_file_not_matching_its_checksum_is_rebuilt(fake_model, tmp_path, builds):
    path = onnx_export.ensure_artifact(fake_model, tmp_path / "cache")
    path.write_bytes(b"corrupted")
    assert onnx_export.ensure_artifact(fake_model, tmp_path / "cache") == path
    assert len(builds) == 2 and path.read_bytes() == b"onnx-bytes-2"
    (path.parent / onnx_export.MANIFEST).write_text("not json")
    onnx_export.ensure_artifact(fake_model, tmp_path / "cache")
    assert len(builds) == 3


def test_new_weights_get_a_new_artifact(fake_model, tmp_path, builds):
    first = onnx_export.ensure_artifact(fake_model, tmp_path / "cache")
    (fake_model / "model.safetensors").write_bytes(b"weights-v2")
    second = onnx_export.ensure_artifact(fake_model, tmp_path / "cache")
    assert first.parent != second.parent and len(builds) == 2
