"""What a service is at run time, and how one or several are served.

A ``Service`` is an ASGI app plus background tasks (consumer loops, timers). Its ``start`` and
``stop`` are called by whoever hosts it: a service's own ``__main__`` in production, the embedded
stack for ``make run``, or a test. ``stop`` drains: consumer loops finish the batch in hand and
commit before leaving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI

from services.common.aio import cancel_and_wait
from services.common.bus import Bus, make_bus
from services.common.errors import AlstreamError, BackendUnavailable
from services.common.logging import setup_logging
from services.common.settings import CommonSettings, load_settings
from services.common.store import Store, make_store
from services.common.topics import Topics

log = logging.getLogger(__name__)
Builder = Callable[[Any, Bus, Store], "Service"]


@dataclass
class Service:
    name: str
    app: FastAPI
    jobs: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Runs after every job has finished (e.g. stop a batcher the consumer loops were using).
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Handles to internals for tests and the embedded stack; not used by the service itself.
    state: dict[str, Any] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        for hook in self.on_start:
            await hook()
        self._tasks = [asyncio.create_task(job(), name=f"{self.name}:{job.__name__}")
                       for job in self.jobs]
        for task in self._tasks:
            task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s job %s died", self.name, task.get_name(), exc_info=task.exception())

    async def stop(self, timeout_s: float = 10.0) -> None:
        for hook in self.on_stop:
            result = hook()
            if asyncio.iscoroutine(result):
                await result
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout_s)
            await asyncio.gather(*(cancel_and_wait(task) for task in pending))
        for close in self.on_close:
            await close()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: one SIGTERM must stop every server in this
    process together and then drain the services, which ``serve`` does."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """Bind before serving, so a taken port is one clear error rather than uvicorn's exit(3)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BackendUnavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def make_server(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    # Slow-client limits (header timeout, keep-alive, connection cap, header size) are set per
    # app by services.common.auth.wiring.secure_app from its settings.
    options: dict[str, Any] = getattr(app.state, "uvicorn_options", {})
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                            **options)
    return _Server(config)


@dataclass
class Hosted:
    """What ``hosting`` runs: one URL and one server task per service, in order."""

    urls: list[str]
    tasks: list[asyncio.Task[None]]


@contextlib.asynccontextmanager
async def hosting(
    services: list[tuple[Service, str, int]], bus: Bus, store: Store, topics: Topics
) -> AsyncIterator[Hosted]:
    """Bind, start the backends and services, serve HTTP; on exit drain in reverse order:
    HTTP first, then consumers, then backends. Port 0 picks a free port (tests)."""
    # Ports first: failing fast on a taken port beats failing after connecting to Kafka.
    sockets: list[socket.socket] = []
    started: list[Service] = []
    servers: list[uvicorn.Server] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for _, host, port in services:
            sockets.append(bind(host, port))
        await bus.start()
        await bus.ensure_topics(topics)
        await store.start()
        for svc, _, _ in services:
            await svc.start()
            started.append(svc)
        servers = [make_server(svc.app, host, port) for svc, host, port in services]
        tasks = [asyncio.create_task(s.serve(sockets=[sock]))
                 for s, sock in zip(servers, sockets, strict=True)]
        while not all(s.started for s in servers):
            if any(t.done() for t in tasks):
                failed = [f"{h}:{p}" for (_, h, p), s in zip(services, servers, strict=True)
                          if not s.started]
                raise BackendUnavailable(f"could not serve on {', '.join(failed)}")
            await asyncio.sleep(0.05)
        urls = [f"http://{host}:{sock.getsockname()[1]}"
                for (_, host, _), sock in zip(services, sockets, strict=True)]
        yield Hosted(urls, tasks)
    finally:
        for s in servers:
            s.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for svc in reversed(started):
            await svc.stop()
        await store.stop()
        await bus.stop()
        for sock in sockets:
            sock.close()


async def serve(
    services: list[tuple[Service, str, int]], bus: Bus, store: Store, topics: Topics,
    announce: Callable[[], None] | None = None,
) -> None:
    """Run services until SIGINT/SIGTERM (or a server dies), then drain."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with hosting(services, bus, store, topics) as hosted:
        if announce is not None:
            announce()
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([*hosted.tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        log.info("stopping: draining HTTP, consumers, then backends")


def run_main(name: str, settings: CommonSettings | Callable[[], CommonSettings],
             build: Builder) -> None:
    """Entry point of one service process: settings are read here or by the caller, at the
    edge. Given the settings class, unsafe or invalid settings end the process with a clear
    message and no traceback (services.common.settings.load_settings)."""
    if not isinstance(settings, CommonSettings):
        settings = load_settings(settings)
    setup_logging(name, settings.log_level, settings.log_format, settings.instance_id)
    settings.warn_if_insecure()
    limit_blas(settings.blas_threads)
    bus = make_bus(settings)
    store = make_store(settings)
    service = build(settings, bus, store)

    def announce() -> None:
        log.info("%s listening on http://%s:%d", name, settings.http_host, settings.http_port)

    run_or_exit(
        serve([(service, settings.http_host, settings.http_port)], bus, store, settings.topics,
              announce)
    )


def limit_blas(threads: int | None) -> None:
    """Cap the BLAS threads of numpy and scipy in this process (None: the libraries' default).
    Both load their own OpenBLAS, and a library loaded after the cap is not capped: load them
    first."""
    if threads is not None:
        import numpy  # noqa: F401
        import scipy.linalg  # noqa: F401
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")


def run_or_exit(main: Coroutine[Any, Any, None]) -> None:
    """Run a process's main coroutine; a deliberate error ends it with one clear line and
    exit status 1 instead of a traceback (port in use, broker unreachable, ...)."""
    try:
        asyncio.run(main)
    except AlstreamError as exc:
        log.error("%s", exc)
        raise SystemExit(1) from None
