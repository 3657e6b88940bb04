"""The README's tested examples run, as written, against `make run`'s stack (real model).

Blocks right after a ``<!-- tested by tests/e2e/test_readme.py`` comment are run in order:
bash with ``set -euo pipefail`` (the curl commands use -f, so any HTTP error fails the block),
Python with the venv's interpreter. The only rewrite is the ports: the stack runs on free ones,
so ``localhost:8001``..``8004`` become them. The stack is ``python -m services.stack`` in a
subprocess, exactly what ``make run`` starts, so its start-up output is checked too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.net import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- tested by tests/e2e/test_readme.py"
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
DEFAULT_PORTS = {"ingest": 8001, "scorer": 8002, "review": 8003, "trainer": 8004}


def readme_blocks(readme: str) -> list[tuple[str, str]]:
    """(language, code) of every block that follows the marker."""
    out = []
    for part in readme.split(MARKER)[1:]:
        match = _BLOCK.search(part)
        assert match is not None, "a test marker without a code block after it"
        out.append((match.group(1), match.group(2)))
    return out


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.ports = {name: free_port() for name in DEFAULT_PORTS}
        self.log = tmp / "stack.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALSTREAM_")}
        env.update({f"ALSTREAM_{n.upper()}_PORT": str(p) for n, p in self.ports.items()})
        env.update({"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                    "PYTHONUNBUFFERED": "1"})
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen([sys.executable, "-m", "services.stack"], cwd=ROOT,
                                         env=env, stdout=fh, stderr=subprocess.STDOUT)

    def url(self, name: str) -> str:
        return f"http://localhost:{self.ports[name]}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"stack exited:\n{self.output()[-3000:]}"
            if "alstream is ready" in self.output():
                return
            time.sleep(0.5)
        raise TimeoutError(f"no banner after {timeout_s}s:\n{self.output()[-3000:]}")

    def localize(self, code: str) -> str:
        for name, port in DEFAULT_PORTS.items():
            code = code.replace(f"localhost:{port}", f"localhost:{self.ports[name]}")
        return code.replace('Endpoints.local("127.0.0.1")', "Endpoints.from_env()")

    def client_env(self, bin_dir: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update({f"ALSTREAM_{n.upper()}_URL": self.url(n) for n in DEFAULT_PORTS})
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        env["PYTHONPATH"] = str(ROOT)
        return env

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("readme-stack"))
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A scratch cwd that sees the repository's examples/, and an `alstream` on PATH (the
    console script exists only once the project is pip-installed)."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "alstream"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m services.cli "$@"\n')
    shim.chmod(0o755)
    return tmp_path


def run_block(stack: Stack, workdir: Path, lang: str, code: str) -> subprocess.CompletedProcess:
    code = stack.localize(code)
    if lang == "bash":
        cmd = ["bash", "-c", f"set -euo pipefail\n{code}"]
    else:
        assert lang == "python", f"untestable block language {lang!r}"
        cmd = [sys.executable, "-c", code]
    return subprocess.run(cmd, cwd=workdir, env=stack.client_env(workdir / "bin"),
                          capture_output=True, text=True, timeout=300)


def test_readme_marks_the_quick_start_cli_and_client_blocks():
    blocks = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert [lang for lang, _ in blocks] == ["bash", "bash", "python"]
    assert "v1/review/next" in blocks[0][1] and "examples/documents.ndjson" in blocks[0][1]


def test_readme_blocks_run_in_order(stack, workdir):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    outputs = []
    for lang, code in readme_blocks(readme):
        done = run_block(stack, workdir, lang, code)
        assert done.returncode == 0, (
            f"README {lang} block failed ({done.returncode}):\n{code}\n--- stdout\n"
            f"{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}\n--- stack\n"
            f"{stack.output()[-3000:]}")
        outputs.append(done.stdout)
    quick, cli, client = outputs
    # The commands did what the README says they do, not merely exit 0.
    assert '"accepted":40,"rejected":0' in quick  # the shipped NDJSON file, every line
    assert '"lease_id"' in quick and '"reason"' in quick  # a leased item was shown
    assert '"model_version"' in quick and '"status":"ready"' in quick
    assert "sent 40, failed 0" in cli
    assert "model_version" in client  # the client printed a typed classification
    stats = httpx.get(f"{stack.url('review')}/v1/review/stats", timeout=10,
                      headers={"X-Reviewer": "alice"}).json()
    assert stats["depth"] + stats["leased"] + stats["labeled"] > 0


def test_start_up_is_quiet_and_ends_with_one_banner(stack):
    out = stack.output()
    assert out.count("alstream is ready") == 1
    assert "Traceback" not in out
    # Deliberate warnings about dev mode (the stack's own, the dev signing key) are allowed;
    # anything else on a normal start is noise a newcomer would take for a fault (ONNX
    # tracer, faiss loader, ...).
    deliberate = re.compile(r"WARNING (services\.stack|services\.common\.settings) |SIGNING_KEY")
    noisy = [line for line in out.splitlines()
             if re.search(r"\b(WARNING|ERROR|Warning:|ModuleNotFoundError)\b", line)
             and not deliberate.search(line)]
    assert noisy == []
