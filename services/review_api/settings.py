from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.settings import ServiceSettings


class ReviewSettings(ServiceSettings):
    http_port: int = 8003
    lease_ttl_s: float = Field(default=300.0, gt=0)
    # One client must not lease the whole queue: at the cap, `next` hands back the reviewer's
    # own oldest lease instead of a new item (so a reloaded page also finds its item again).
    max_leases_per_reviewer: int = Field(default=3, ge=1)
    # How long a reviewer may undo or change their own label; admins may always correct.
    correction_window_s: float = Field(default=600.0, ge=0)
    max_body_bytes: int = Field(default=65_536, ge=1024)
    consumer_group: str = "review-api"
    stats_interval_s: float = Field(default=1.0, gt=0)
    # k annotators: distinct reviewers per item, for every item or only for audit items
    # (the audit estimate is what most needs a trustworthy label).
    votes_needed: int = Field(default=1, ge=1, le=9)
    votes_scope: Literal["all", "audit"] = "all"
    # Consolidation: reliability-weighted (one-coin Dawid-Skene, learned online) or majority.
    consensus: Literal["reliability", "majority"] = "reliability"
    # A split vote gets up to this many extra reviewers, at a raised priority.
    split_extra_votes: int = Field(default=1, ge=0, le=5)
    split_priority_boost: float = Field(default=1.0, ge=0)
    # Re-prioritisation on each new model version: queued items are re-scored from their
    # stored embeddings; those the model is at least this sure about sink, with its label
    # as a suggestion (never learned unless a human confirms it).
    reprioritise: bool = True
    reprioritise_limit: int = Field(default=10_000, ge=1)
    suggest_confidence: float = Field(default=0.9, gt=0, le=1)
    # The reviewer page shows similar labelled items from the scorer's /v1/similar when set
    # (relayed by GET /v1/review/leases/{id}/similar with the reviewer's key and identity).
    scorer_url: str | None = None
