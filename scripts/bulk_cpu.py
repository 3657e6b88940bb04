"""CPU cost of bulk ingest's line reading (docs/security.md): a 128 MiB body that is one
unterminated line, and 1000 ordinary documents, through the ingest app in process.

    PYTHONPATH=. .venv/bin/python scripts/bulk_cpu.py
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx

from services.common.bus import MemoryBus
from services.common.store import MemoryStore
from services.ingest.service import build_ingest
from services.ingest.settings import IngestSettings

NDJSON = {"content-type": "application/x-ndjson"}


async def unterminated(mib: int) -> AsyncIterator[bytes]:
    chunk = b"x" * 65_536
    for _ in range(mib * 16):
        yield chunk


async def main() -> None:
    service = build_ingest(IngestSettings(auth=False), MemoryBus(), MemoryStore())
    await service.start()
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=900) as c:
        cpu = time.process_time()
        resp = await c.post("/v1/documents/bulk", content=unterminated(128), headers=NDJSON)
        print(f"128 MiB unterminated line: HTTP {resp.status_code} {resp.json()['errors']} "
              f"cpu {time.process_time() - cpu:.2f} s")
        docs = b"\n".join(json.dumps({"text": f"document number {i} " * 20}).encode()
                          for i in range(1000))
        cpu = time.process_time()
        resp = await c.post("/v1/documents/bulk", content=docs, headers=NDJSON)
        print(f"1000 documents ({len(docs)} bytes): HTTP {resp.status_code} accepted "
              f"{resp.json()['accepted']} cpu {time.process_time() - cpu:.3f} s")
    await service.stop()


if __name__ == "__main__":
    asyncio.run(main())
