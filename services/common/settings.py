"""Settings shared by every service, read from ALSTREAM_* env vars.

Settings objects are created at the edge (each service's ``__main__`` or the embedded stack) and
passed down; no module reads the environment at import time.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.topics import Topics

_DEV_KEY = "alstream-dev-signing-key-change-me"
log = logging.getLogger(__name__)


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
    # Optional "label: description" text used for zero-shot prototypes at cold start.
    label_descriptions: dict[str, str] = Field(default_factory=dict)

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

    def warn_if_insecure(self) -> None:
        if self.signing_key.get_secret_value() == _DEV_KEY:
            log.warning("ALSTREAM_SIGNING_KEY is the development default; set it in production")
