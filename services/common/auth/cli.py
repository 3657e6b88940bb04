"""Manage API keys from a shell: ``python -m services.common.auth.cli create|list|revoke|generate``.

By default it writes the key registry in the store directly (Redis, from the usual ALSTREAM_*
settings), which is how the first keys of a deployment are made. With ``--url`` it goes through
a service's admin endpoints instead, authenticated by an admin key (``--key`` or
ALSTREAM_API_KEY); that is the only way to reach the in-memory store of the embedded stack.
The token of a new key is printed once; only its hash is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from typing import Any

import httpx

from services.common.auth.keys import KeyInfo, new_key
from services.common.auth.principal import Role
from services.common.errors import AlstreamError
from services.common.settings import CommonSettings, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alstream keys", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a service's base URL: use its admin endpoints")
    parser.add_argument("--key", help="admin key for --url (default: $ALSTREAM_API_KEY)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a key; prints its token once")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True, help="owner; the reviewer name for reviewers")
    sub.add_parser("list", help="list keys (never secrets)")
    revoke = sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    sub.add_parser("generate", help="print a random secret (signing key, bootstrap admin key)")
    return parser


async def _store_call(args: argparse.Namespace) -> Any:
    from services.common.store import make_store

    settings = load_settings(CommonSettings)
    if settings.store == "memory":
        raise AlstreamError("ALSTREAM_STORE=memory: the keys live inside the running process; "
                            "use --url http://HOST:PORT with an admin key")
    store = make_store(settings)
    await store.start()
    try:
        if args.command == "create":
            record, token = new_key(Role(args.role), args.name)
            await store.keys.add(record)
            return {"key": record.info().model_dump(), "token": token}
        if args.command == "list":
            return {"keys": [k.info().model_dump() for k in await store.keys.list()]}
        return (await store.keys.revoke(args.key_id)).info().model_dump()
    finally:
        await store.stop()


def _http_call(args: argparse.Namespace) -> Any:
    key = args.key or os.environ.get("ALSTREAM_API_KEY")
    if not key:
        raise AlstreamError("--url needs an admin key: --key or ALSTREAM_API_KEY")
    base = args.url.rstrip("/") + "/v1/admin/keys"
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        if args.command == "create":
            resp = client.post(base, json={"role": args.role, "name": args.name})
        elif args.command == "list":
            resp = client.get(base)
        else:
            resp = client.post(f"{base}/{args.key_id}/revoke")
    if resp.status_code >= 400:
        raise AlstreamError(f"HTTP {resp.status_code}: {resp.text[:300]}")
    return resp.json()


def _show(command: str, result: Any) -> None:
    if command == "create":
        info = KeyInfo.model_validate(result["key"])
        print(f"created {info.role.value} key {info.id} for {info.name!r}. The token is shown "
              "once; store it now:", file=sys.stderr)
        print(result["token"])
    elif command == "list":
        for raw in result["keys"]:
            k = KeyInfo.model_validate(raw)
            print(f"{k.id}  {k.role.value:<8}  {'revoked' if k.revoked else 'active ':<7}  "
                  f"{k.name}")
    else:
        print(f"revoked key {result['id']} ({result['name']})")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "generate":
        print(secrets.token_urlsafe(48))
        return 0
    try:
        result = _http_call(args) if args.url else asyncio.run(_store_call(args))
    except (AlstreamError, httpx.HTTPError) as exc:
        print(f"alstream keys: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _show(args.command, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
