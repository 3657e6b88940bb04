"""Bulk upload from the command line, with a progress bar and retries.

    python -m services.ingest.bulk docs.jsonl --url http://127.0.0.1:8001 [--text-field text]

Reads JSONL (or CSV by extension), sends batches to ``POST /v1/documents``, retries 429 and 5xx
with backoff, and reports every line it could not send, so nothing is dropped silently.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from tqdm import tqdm


def read_rows(path: Path, text_field: str, id_field: str | None) -> Iterator[tuple[int, dict]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows: Iterator[dict] = (
            csv.DictReader(fh) if path.suffix.lower() == ".csv"
            else (json.loads(line) for line in fh if line.strip())
        )
        for n, row in enumerate(rows, start=1):
            doc = {"text": row.get(text_field, "")}
            if id_field and row.get(id_field) not in (None, ""):
                doc["id"] = str(row[id_field])
            yield n, doc


def send(client: httpx.Client, url: str, batch: list[dict], retries: int = 5) -> httpx.Response:
    for attempt in range(retries):
        resp = client.post(f"{url}/v1/documents", json={"documents": batch})
        if resp.status_code != 429 and resp.status_code < 500:
            return resp
        time.sleep(min(2**attempt * 0.2, 5.0))
    return resp


def upload(path: Path, url: str, text_field: str, id_field: str | None, batch_size: int) -> int:
    sent, failed = 0, 0
    with httpx.Client(timeout=60) as client, tqdm(unit="doc", desc=path.name) as bar:
        batch: list[tuple[int, dict]] = []
        for item in [*read_rows(path, text_field, id_field), None]:
            if item is not None:
                batch.append(item)
            if batch and (item is None or len(batch) >= batch_size):
                resp = send(client, url, [doc for _, doc in batch])
                if resp.status_code == 202:
                    sent += len(batch)
                else:
                    # A bad batch is retried line by line so one bad document costs only itself.
                    for line, doc in batch:
                        one = send(client, url, [doc])
                        if one.status_code == 202:
                            sent += 1
                        else:
                            failed += 1
                            tqdm.write(f"line {line}: HTTP {one.status_code} {one.text[:300]}")
                bar.update(len(batch))
                bar.set_postfix(sent=sent, failed=failed)
                batch = []
    print(f"sent {sent}, failed {failed}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="JSONL or CSV file")
    parser.add_argument("--url", default="http://127.0.0.1:8001", help="ingest base URL")
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--id-field", default="id")
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args(argv)
    return upload(args.path, args.url.rstrip("/"), args.text_field, args.id_field,
                  args.batch_size)


if __name__ == "__main__":
    raise SystemExit(main())
