"""A service process started the way the chart starts it (settings from the environment)
writes JSON lines carrying its service, instance and version, from start to drain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx

from tests.deploy.conftest import ROOT
from tests.fixtures.net import free_port


def test_ingest_process_logs_json_with_identity() -> None:
    port = free_port()
    env = {**os.environ, "ALSTREAM_LOG_FORMAT": "json", "ALSTREAM_INSTANCE_ID": "ingest-7f9c",
           "ALSTREAM_HTTP_PORT": str(port), "ALSTREAM_LOG_LEVEL": "INFO"}
    proc = subprocess.Popen([sys.executable, "-m", "services.ingest"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    lines = [json.loads(line) for line in out.decode().splitlines()]
    messages = [x["message"] for x in lines]
    assert any("listening on" in m for m in messages) and any("draining" in m for m in messages)
    for line in lines:
        assert (line["service"], line["instance"]) == ("ingest", "ingest-7f9c")
        assert line["version"] and line["level"] in {"INFO", "WARNING"}
