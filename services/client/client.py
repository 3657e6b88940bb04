"""The client: one object for the four services, retries on 429/503 that honour Retry-After."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from services.client.models import (
    Accepted,
    BulkResult,
    Classification,
    LabelResult,
    ModelInfo,
    ReviewItem,
)

T = TypeVar("T", bound=BaseModel)
# Statuses that mean "not processed, come back later": safe to resend even for a POST.
RETRY_STATUSES = frozenset({429, 503})


class ApiError(Exception):
    """A 4xx/5xx answer: ``status`` and the server's ``detail``."""

    def __init__(self, status: int, detail: Any, method: str, url: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"{method} {url} -> HTTP {status}: {detail}")


@dataclass(frozen=True)
class Endpoints:
    """Base URL of each service. The embedded stack serves them on one host, ports 8001-8004."""

    ingest: str = "http://127.0.0.1:8001"
    scorer: str = "http://127.0.0.1:8002"
    review: str = "http://127.0.0.1:8003"
    trainer: str = "http://127.0.0.1:8004"

    @classmethod
    def local(cls, host: str = "127.0.0.1", first_port: int = 8001) -> Endpoints:
        urls = [f"http://{host}:{first_port + i}" for i in range(4)]
        return cls(*urls)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Endpoints:
        """``ALSTREAM_INGEST_URL`` ... ``ALSTREAM_TRAINER_URL``; unset ones keep the default."""
        env = os.environ if env is None else env
        base = cls()
        return cls(**{
            name: env.get(f"ALSTREAM_{name.upper()}_URL", getattr(base, name)).rstrip("/")
            for name in ("ingest", "scorer", "review", "trainer")
        })


class Client:
    """Sync client. ``api_key`` is sent as a Bearer token; ``reviewer`` as ``X-Reviewer``,
    which only the embedded dev stack (auth off) reads."""

    def __init__(
        self,
        endpoints: Endpoints | None = None,
        *,
        api_key: str | None = None,
        reviewer: str | None = None,
        timeout_s: float = 30.0,
        retries: int = 5,
        backoff_s: float = 0.25,
        max_backoff_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoints = endpoints or Endpoints()
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        headers = {"user-agent": "alstream-client/0.1"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        if reviewer:
            headers["x-reviewer"] = reviewer
        self._http = httpx.Client(timeout=timeout_s, headers=headers, transport=transport)
        # A review API from before leases (GET next; label/skip by item id) answers 405 to
        # POST next; we then speak its dialect, so a client upgrade can precede the server's.
        self._legacy_review = False

    @classmethod
    def from_env(cls, **kwargs: Any) -> Client:
        """Endpoints from ``ALSTREAM_*_URL``, key from ``ALSTREAM_API_KEY``, reviewer from
        ``ALSTREAM_REVIEWER``; keyword arguments win."""
        kwargs.setdefault("api_key", os.environ.get("ALSTREAM_API_KEY"))
        kwargs.setdefault("reviewer", os.environ.get("ALSTREAM_REVIEWER"))
        return cls(Endpoints.from_env(), **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- apps: ingest, classify, feedback -------------------------------------------------

    def ingest(self, documents: Iterable[Mapping[str, Any] | str]) -> Accepted:
        """Up to the server's batch limit (1000 by default) documents; a str is a text."""
        docs = [{"text": d} if isinstance(d, str) else dict(d) for d in documents]
        body = {"documents": docs}
        return self._call(Accepted, "POST", self.endpoints.ingest, "/v1/documents", json=body)

    def ingest_one(self, text: str, *, id: str | None = None,
                   metadata: Mapping[str, Any] | None = None,
                   source: str | None = None) -> str:
        """One document; returns its id (assigned by the server when not given)."""
        doc: dict[str, Any] = {"text": text}
        if id is not None:
            doc["id"] = id
        if metadata:
            doc["metadata"] = dict(metadata)
        if source is not None:
            doc["source"] = source
        return self.ingest([doc]).ids[0]

    def bulk(self, ndjson: bytes | str | Path) -> BulkResult:
        """NDJSON, one document per line (bytes, text or a file path); bad lines come back in
        ``errors`` with their line numbers, good ones are kept."""
        if isinstance(ndjson, Path):
            ndjson = ndjson.read_bytes()
        content = ndjson.encode() if isinstance(ndjson, str) else ndjson
        return self._call(BulkResult, "POST", self.endpoints.ingest, "/v1/documents/bulk",
                          content=content, headers={"content-type": "application/x-ndjson"})

    def classify(self, text: str) -> Classification:
        return self._call(Classification, "POST", self.endpoints.scorer, "/v1/classify",
                          json={"text": text})

    def model(self) -> ModelInfo:
        return self._call(ModelInfo, "GET", self.endpoints.scorer, "/v1/model")

    def feedback(self, doc_id: str, label: str, text: str) -> dict[str, Any]:
        """Report that a prediction was wrong (app role): the document's id, the right label
        and the text as it was classified. The scorer's settings decide whether it is learned
        directly, weighted, or queued for a reviewer to confirm."""
        return self._json("POST", self.endpoints.scorer, "/v1/feedback",
                          json={"doc_id": doc_id, "label": label, "text": text})

    # --- reviewers: lease, label, skip, undo ----------------------------------------------

    def review_next(self) -> ReviewItem | None:
        """Lease the next item, or None when nothing is waiting (204)."""
        try:
            method = "GET" if self._legacy_review else "POST"
            resp = self._request(method, self.endpoints.review, "/v1/review/next")
        except ApiError as exc:
            if exc.status != 405 or self._legacy_review:
                raise
            self._legacy_review = True
            return self.review_next()
        if resp.status_code == 204:
            return None
        body = resp.json()
        if self._legacy_review:  # the old API leases by item id
            body = {**body, "lease_id": body["item_id"],
                    "expires_at": body.get("lease_expires_at")}
        return ReviewItem.model_validate(body)

    def label(self, lease_id: str, label: str) -> LabelResult:
        return self._call(LabelResult, "POST", self.endpoints.review,
                          f"{self._lease_path(lease_id)}/label", json={"label": label})

    def skip(self, lease_id: str) -> None:
        self._request("POST", self.endpoints.review, f"{self._lease_path(lease_id)}/skip")

    def heartbeat(self, lease_id: str) -> dict[str, Any]:
        return self._json("POST", self.endpoints.review, f"{self._lease_path(lease_id)}/heartbeat")

    def _lease_path(self, lease_id: str) -> str:
        if self._legacy_review:
            return f"/v1/review/{_seg(lease_id)}"
        return f"/v1/review/leases/{_seg(lease_id)}"

    def undo(self, event_id: str) -> dict[str, Any]:
        return self._json("POST", self.endpoints.review,
                          f"/v1/review/labels/{_seg(event_id)}/undo")

    def relabel(self, event_id: str, label: str) -> dict[str, Any]:
        return self._json("PUT", self.endpoints.review, f"/v1/review/labels/{_seg(event_id)}",
                          json={"label": label})

    def review_stats(self) -> dict[str, Any]:
        return self._json("GET", self.endpoints.review, "/v1/review/stats")

    def trainer_status(self) -> dict[str, Any]:
        return self._json("GET", self.endpoints.trainer, "/v1/status")

    # --- plumbing -------------------------------------------------------------------------

    def _call(self, model: type[T], method: str, base: str, path: str, **kw: Any) -> T:
        return model.model_validate(self._request(method, base, path, **kw).json())

    def _json(self, method: str, base: str, path: str, **kw: Any) -> dict[str, Any]:
        resp = self._request(method, base, path, **kw)
        return {} if resp.status_code == 204 or not resp.content else resp.json()

    def _request(self, method: str, base: str, path: str, **kw: Any) -> httpx.Response:
        url = f"{base}{path}"
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                resp = self._http.request(method, url, **kw)
            except httpx.ConnectError:
                # Nothing was sent, so any method may be retried (a stack still starting).
                if last:
                    raise
                time.sleep(self._delay(attempt, None))
                continue
            if resp.status_code in RETRY_STATUSES and not last:
                time.sleep(self._delay(attempt, resp.headers.get("retry-after")))
                continue
            if resp.status_code >= 400:
                raise ApiError(resp.status_code, _detail(resp), method, url)
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.max_backoff_s)
            except ValueError:
                pass  # an HTTP date: rare here; fall back to our own backoff
        # Exponential with full jitter, so many clients told "busy" don't return in step.
        return random.uniform(0, min(self.backoff_s * 2**attempt, self.max_backoff_s))


def _seg(value: str) -> str:
    """One path segment: ids may hold '/', which must not split the path."""
    return quote(value, safe="")


def _detail(resp: httpx.Response) -> Any:
    try:
        body = resp.json()
    except (json.JSONDecodeError, ValueError):
        return resp.text[:500]
    return body.get("detail", body) if isinstance(body, dict) else body
