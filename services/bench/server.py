"""A scorer process for the /classify benchmark: ``python -m services.bench.server ...``.

The real scorer (build_scorer, uvicorn) on the in-process bus and store, with the benchmark's
model registered. ``--per-request`` swaps the HTTP path's embedder for the unbatched baseline.
Prints READY once listening; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from pydantic import SecretStr

from services.bench.baseline import BENCH_KEY, PerRequestEmbedder, load_model, register
from services.common.bus import MemoryBus
from services.common.encoding import make_encoder
from services.common.model import OnlineClassifier
from services.common.runtime import serve
from services.common.store import MemoryStore
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--per-request", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = ScorerSettings(
        encoder_backend=args.backend, http_port=args.port, log_level="WARNING",
        signing_key=SecretStr(BENCH_KEY.decode()), queue_interactive=1024,
        auth=False,  # a local benchmark of the model path: no keys, no rate limits
    )
    asyncio.run(_serve(settings, load_model(args.model), args.per_request))


async def _serve(settings: ScorerSettings, model: OnlineClassifier, per_request: bool) -> None:
    bus, store = MemoryBus(), MemoryStore()
    encoder = make_encoder(settings.encoder_backend, device="cpu",
                           max_length=settings.max_length)
    await register(store, model)
    service = build_scorer(settings, bus, store, encoder=encoder)
    if per_request:
        service.app.state.deps.embedder = PerRequestEmbedder(encoder)
    await serve([(service, "127.0.0.1", settings.http_port)], bus, store, settings.topics,
                announce=lambda: print("READY", flush=True))


if __name__ == "__main__":
    main()
