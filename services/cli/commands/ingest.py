"""``alstream ingest FILE``: send a file of documents, with progress and a per-line report."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.cli.commands.common import add_client_options, client, describe, fail

HELP = "send documents from NDJSON/JSONL or CSV to ingest, with progress; bad lines reported"
EXAMPLES = """\
  alstream ingest examples/documents.ndjson
  alstream ingest tickets.csv --text-field body --id-field ticket_id
  cat docs.ndjson | alstream ingest -"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="NDJSON/JSONL (one document per line) or .csv; - is stdin")
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--id-field", default="id", help="column with the document id, if any")
    parser.add_argument("--batch-size", type=int, default=200)
    add_client_options(parser)


def rows(path: str, text_field: str, id_field: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, document) pairs; a line that is not a JSON object yields an error doc."""
    fh = sys.stdin if path == "-" else Path(path).open(encoding="utf-8", newline="")
    with fh:
        if path.lower().endswith(".csv"):
            for n, row in enumerate(csv.DictReader(fh), start=2):
                yield n, _doc(row, text_field, id_field)
            return
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, {"_error": f"not JSON: {exc}"}
                continue
            yield n, _doc(row, text_field, id_field) if isinstance(row, dict) else {
                "_error": "not a JSON object"}


def _doc(row: dict[str, Any], text_field: str, id_field: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"text": row.get(text_field)}
    if row.get(id_field) not in (None, ""):
        doc["id"] = str(row[id_field])
    for key in ("metadata", "source"):
        if row.get(key) is not None:
            doc[key] = row[key]
    return doc


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from services.client import ApiError

    sent = failed = 0
    try:
        with client(args) as c, tqdm(unit="doc", desc="ingest", file=sys.stderr) as bar:
            batch: list[tuple[int, dict[str, Any]]] = []
            for item in [*rows(args.path, args.text_field, args.id_field), None]:
                if item is not None and "_error" in item[1]:
                    failed += 1
                    tqdm.write(f"line {item[0]}: {item[1]['_error']}", file=sys.stderr)
                elif item is not None:
                    batch.append(item)
                if batch and (item is None or len(batch) >= args.batch_size):
                    try:
                        sent += len(c.ingest([doc for _, doc in batch]).ids)
                    except ApiError as exc:
                        if exc.status != 422:
                            raise
                        # One bad document rejects its batch: resend one by one, so it costs
                        # only itself and the report names its line.
                        for line, doc in batch:
                            try:
                                c.ingest([doc])
                                sent += 1
                            except ApiError as one:
                                failed += 1
                                tqdm.write(f"line {line}: {describe(one.detail)}", file=sys.stderr)
                    bar.update(len(batch))
                    bar.set_postfix(sent=sent, failed=failed)
                    batch = []
    except OSError as exc:
        print(f"alstream ingest: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        return fail(exc)
    print(f"sent {sent}, failed {failed}")
    return 1 if failed else 0
