"""Bounded NDJSON line reading for bulk ingest.

Linear in the body: each chunk is scanned once for newlines and a line's bytes are appended to
one buffer once (the old ``buffer += chunk; buffer.split()`` re-scanned and re-copied an
unterminated line on every chunk: 128 MiB took 103 s of CPU, now 0.02 s; scripts/bulk_cpu.py,
docs/security.md). A line longer than ``max_line`` is not buffered at all: its bytes are
dropped until its newline, and it is reported as ``TOO_LONG``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator


class TooLong:
    """Marker for a line over the length limit (its content was discarded)."""


TOO_LONG = TooLong()


class BodyTooLarge(Exception):
    """The body passed ``max_bytes``; what was read before is already yielded."""


async def read_lines(chunks: AsyncIterable[bytes], max_line: int,
                     max_bytes: int) -> AsyncIterator[bytes | TooLong]:
    buf = bytearray()
    skipping = False  # inside an over-long line, waiting for its end
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > max_bytes:
            raise BodyTooLarge
        start = 0
        while start <= len(chunk):
            nl = chunk.find(b"\n", start)
            end = len(chunk) if nl < 0 else nl
            if not skipping:
                if len(buf) + end - start > max_line:
                    skipping = True
                    buf.clear()
                else:
                    buf += chunk[start:end]
            if nl < 0:
                break
            if skipping:
                skipping = False
                yield TOO_LONG
            else:
                yield bytes(buf)
                buf.clear()
            start = nl + 1
    if skipping:
        yield TOO_LONG
    elif buf.strip():
        yield bytes(buf)
