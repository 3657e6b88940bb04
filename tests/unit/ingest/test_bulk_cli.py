from __future__ import annotations

import json
import threading
import time

import pytest
import uvicorn

from services.common.bus import MemoryBus
from services.common.store import MemoryStore
from services.ingest.bulk import main
from services.ingest.service import build_ingest
from services.ingest.settings import IngestSettings
from tests.fixtures.net import free_port


@pytest.fixture
def server():
    bus = MemoryBus()
    service = build_ingest(IngestSettings(max_text_chars=50), bus, MemoryStore())
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(service.app, port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}", bus
    srv.should_exit = True
    thread.join(5)


def test_bulk_cli_sends_good_rows_and_reports_bad_ones(server, tmp_path, capsys):
    url, bus = server
    path = tmp_path / "docs.jsonl"
    rows = [{"id": f"r{i}", "text": "ok" if i != 3 else "x" * 51} for i in range(10)]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert main([str(path), "--url", url, "--batch-size", "4"]) == 1
    err = capsys.readouterr()
    assert "sent 9, failed 1" in err.err
    assert "line 4: HTTP 422" in err.out + err.err
    assert sum(bus.end_offsets("alstream.documents")) == 9
