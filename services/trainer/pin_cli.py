"""``alstream-pin VERSION`` / ``alstream-pin --unpin`` / ``alstream-pin --list``: rollback from a
shell, through the trainer's admin endpoints (docs/lifecycle.md)."""

from __future__ import annotations

import argparse
import json
import sys

import httpx


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="alstream-pin", description=__doc__.split("\n")[0])
    parser.add_argument("version", nargs="?", type=int, help="the version to serve everywhere")
    parser.add_argument("--unpin", action="store_true", help="resume normal promotion")
    parser.add_argument("--list", action="store_true", help="retained versions and decisions")
    parser.add_argument("--url", default="http://127.0.0.1:8004", help="the trainer")
    parser.add_argument("--key", default=None, help="an admin API key")
    args = parser.parse_args(argv)
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    with httpx.Client(base_url=args.url, headers=headers, timeout=120.0) as client:
        if args.list:
            resp = client.get("/v1/models")
        elif args.unpin:
            resp = client.delete("/v1/models/pin")
        elif args.version is not None:
            resp = client.post("/v1/models/pin", json={"version": args.version})
        else:
            parser.error("give a version, --unpin or --list")
    if resp.status_code != 200:
        print(f"{resp.status_code}: {resp.text}", file=sys.stderr)
        sys.exit(1)
    body = resp.json()
    if args.list:
        serving = body["serving"] or {}
        for r in body["versions"]:
            mark = "*" if r["version"] == serving.get("version") else " "
            print(f"{mark} v{r['version']:<6} {r['decision']:<9} {r['n_labels']:>7} labels  "
                  f"{r['reason']}")
    else:
        print(json.dumps({k: body[k] for k in ("decision", "serving_version", "pinned",
                                                 "reason")}))


if __name__ == "__main__":
    main()
