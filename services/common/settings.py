"""Settings shared by every service, read from ALSTREAM_* env vars.

Settings objects are created at the edge (each service's ``__main__`` or the embedded stack) and
passed down; no module reads the environment at import time.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.topics import Topics

_DEV_KEY = "alstream-dev-signing-key-change-me"
MIN_SECRET_BYTES = 32
# Values people paste from examples; a secret that is one of these (or contains one and is
# otherwise short) is not a secret.
_PLACEHOLDERS = ("changeme", "change-me", "change_me", "secret", "password", "example",
                 "default", "dev-signing-key", "xxxxxxxx", "todo", "replace-me")
log = logging.getLogger(__name__)
S = TypeVar("S", bound="CommonSettings")


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALSTREAM_", extra="ignore")

    # Which implementation of the contracts: in-process (embedded) or Kafka/Redis (production).
    bus: Literal["memory", "kafka"] = "memory"
    store: Literal["memory", "redis"] = "memory"

    kafka_bootstrap: str = "127.0.0.1:9092"
    # Passed through to aiokafka unchanged, so any standard Kafka security setup works.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    topic_prefix: str = "alstream."
    # Partitions of the work topics (documents, predictions, review requests, dead letters):
    # the most consumers of one group that can work in parallel. The labels topic and the model
    # announcements always get one partition (Topics.partitions: one total order to replay).
    partitions: int = Field(default=6, ge=1)
    # Topics are created with these; the defaults suit a production cluster of 3 brokers (a
    # write acknowledged by 2 replicas survives losing any one broker). A single-broker dev or
    # test setup must set both to 1 explicitly.
    replication_factor: int = Field(default=3, ge=1)
    min_insync_replicas: int = Field(default=2, ge=1)
    # How fast the group notices a dead member (kill -9) and hands its partitions on.
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000)
    kafka_heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    # aiokafka retries some calls (offset commit, committed-offset lookup, leaving a group)
    # for as long as the coordinator answers "retriable"; we stop waiting after this long and
    # treat the call as failed, so a sick coordinator can never hang a service.
    kafka_call_timeout_s: float = Field(default=15.0, gt=0)

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "alstream:"

    # HMAC key for model artifacts: the scorer refuses to unpickle anything that fails it.
    signing_key: SecretStr = SecretStr(_DEV_KEY)

    # When set, the label set is fixed: reviewers can only submit these (JSON list or a,b,c).
    label_set: list[str] | None = None
    # Labels match case-insensitively ("Sports" is "sports"); new open-mode labels are folded.
    label_case_fold: bool = True
    # Open mode (no label_set): may reviewers and apps create labels, or only admins?
    label_open: bool = False
    # Optional "label: description" text used for zero-shot prototypes at cold start.
    label_descriptions: dict[str, str] = Field(default_factory=dict)
    # Label events are stored in the store's outbox with the change that made them and
    # published from there: by the request at once, and every this many seconds by the review
    # API and the scorer (what a crash or a broker outage left behind).
    outbox_interval_s: float = Field(default=1.0, gt=0)

    # Lineage (GET /v1/documents/{id}): predictions and label facts kept in the store by id,
    # at most this many of each and for at most this long, because Kafka topics are no index.
    lineage_max_items: int = Field(default=100_000, ge=1)
    lineage_max_age_s: float = Field(default=7 * 86400.0, gt=0)
    # aiokafka fetch.max.wait.ms for consumers that do not set their own (Bus.consumer's
    # fetch_wait_ms): label and model-announcement consumers use less for freshness.
    kafka_fetch_max_wait_ms: int = Field(default=500, ge=0)

    # numpy BLAS threads per process. The models' matrices are small (384 x 384): one thread
    # is fastest, and several per process oversubscribe the cores of a shared machine (the
    # trainer's update measured 13 labels/s with the default, 4,200/s with 1; lifecycle.md).
    blas_threads: int | None = Field(default=1, ge=1)

    log_level: str = "INFO"
    # "json" for production log shippers (one object per line with service, instance, version
    # and record ids); "text" stays the readable dev default.
    log_format: Literal["text", "json"] = "text"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")

    @field_validator("label_set", mode="before")
    @classmethod
    def _split_labels(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [v.strip() for v in value.split(",") if v.strip()] or None
        return value

    @property
    def topics(self) -> Topics:
        return Topics(prefix=self.topic_prefix)

    # API keys on every endpoint (services/common/auth). Off only for the embedded dev stack:
    # a process on Kafka or Redis refuses to start with auth off (ServiceSettings).
    auth: bool = True
    # An admin key from a Secret, so a fresh deployment can create the other keys over HTTP.
    # Any string of 32+ bytes; `python -m services.common.auth.cli generate` prints one.
    bootstrap_admin_key: SecretStr | None = None
    # /metrics needs a valid key (any role) when true; open by default for scrapers that
    # sit on a private network.
    metrics_auth: bool = False
    # Per-key token buckets (rate per second, burst) per endpoint class. Production shares
    # them through Redis, so replicas enforce one limit together.
    rate_limits: bool = True
    rate_classify_per_s: float = Field(default=50.0, gt=0)
    rate_classify_burst: float = Field(default=100.0, ge=1)
    rate_ingest_per_s: float = Field(default=20.0, gt=0)
    rate_ingest_burst: float = Field(default=40.0, ge=1)
    rate_review_per_s: float = Field(default=10.0, gt=0)
    rate_review_burst: float = Field(default=30.0, ge=1)
    # Slow-client limits for the HTTP server (docs/security.md): a connection that has not
    # sent complete request headers after http_header_timeout_s is closed; idle keep-alive
    # connections after http_keep_alive_s; beyond http_max_connections concurrent
    # connections/requests new ones get 503; request headers are capped at http_max_header_bytes.
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    http_keep_alive_s: int = Field(default=5, ge=1)
    http_max_connections: int = Field(default=1000, ge=1)
    http_max_header_bytes: int = Field(default=65_536, ge=1024)

    def warn_if_insecure(self) -> None:
        for problem in self.insecure_reasons():
            log.warning("INSECURE: %s", problem)

    def insecure_reasons(self) -> list[str]:
        """What makes this configuration unfit for a shared network (empty when fine)."""
        problems = []
        key = self.signing_key.get_secret_value()
        if not key:
            problems.append("ALSTREAM_SIGNING_KEY is empty")
        elif key == _DEV_KEY:
            problems.append("ALSTREAM_SIGNING_KEY is the public development default")
        elif len(key.encode()) < MIN_SECRET_BYTES:
            problems.append(f"ALSTREAM_SIGNING_KEY is {len(key.encode())} bytes; "
                            f"at least {MIN_SECRET_BYTES} are required")
        elif _placeholder(key):
            problems.append("ALSTREAM_SIGNING_KEY looks like a placeholder from an example")
        if not self.auth:
            problems.append("ALSTREAM_AUTH is off: every caller is an admin")
        boot = self.bootstrap_admin_key.get_secret_value() if self.bootstrap_admin_key else None
        if boot is not None and (len(boot.encode()) < MIN_SECRET_BYTES or _placeholder(boot)):
            problems.append(f"ALSTREAM_BOOTSTRAP_ADMIN_KEY must be a random string of at least "
                            f"{MIN_SECRET_BYTES} bytes")
        return problems

    @property
    def production(self) -> bool:
        """Kafka or Redis means a shared network: secrets and auth are enforced."""
        return self.bus == "kafka" or self.store == "redis"


def _placeholder(secret: str) -> bool:
    """An example value or a low-entropy string ("changemechangeme...", "aaaa...")."""
    lowered = secret.lower()
    distinct = len(set(lowered))
    return distinct < 8 or (any(p in lowered for p in _PLACEHOLDERS) and distinct < 16)


class ServiceSettings(CommonSettings):
    """Settings of a service process (or the embedded stack): on Kafka or Redis it refuses to
    exist with an unsafe signing key or auth off, so no production process can start that way.

    Kept apart from CommonSettings, which tests also use to build bare bus clients.
    """

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> ServiceSettings:
        if self.production:
            problems = self.insecure_reasons()
            if problems:
                raise ValueError(
                    "refusing to start: ALSTREAM_BUS=kafka or ALSTREAM_STORE=redis means a "
                    "shared network, and this configuration is unsafe there: "
                    + "; ".join(problems)
                    + ". Set ALSTREAM_SIGNING_KEY to a random secret of 32+ bytes (e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`) and keep "
                    "ALSTREAM_AUTH on (docs/security.md)."
                )
        return self


def load_settings(factory: Callable[[], S]) -> S:
    """Build settings at a process's edge; invalid or unsafe settings end the process with
    one clear message per problem and exit status 2, no traceback, and no secret values
    (pydantic's own message would echo the input)."""
    try:
        return factory()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(x) for x in error.get("loc", ())) or "settings"
            msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            print(f"alstream: {where}: {msg}" if where != "settings" else f"alstream: {msg}",
                  file=sys.stderr)
        raise SystemExit(2) from None
