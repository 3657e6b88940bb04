from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from services.common.selection.selector import DEFAULT_AUDIT_SHARE
from services.common.settings import ServiceSettings


class ScorerSettings(ServiceSettings):
    http_port: int = 8002
    # auto: torch fp16 on CUDA when a GPU is present, else ONNX int8 (2-3x torch fp32 on CPU;
    # docs/benchmarks.md). torch | onnx force one.
    encoder_backend: Literal["auto", "torch", "onnx"] = "auto"
    onnx_cache_dir: str | None = Field(
        default=None, description="Where the int8 ONNX export is cached; .cache/onnx if unset")
    encoder_threads: int | None = Field(default=None, ge=1, description="ONNX intra-op threads")
    model_path: str | None = Field(default=None, description="Local model dir; packaged MiniLM")
    device: str = "auto"
    max_length: int = Field(default=256, ge=8, le=512)
    # Micro-batcher (services/scorer/batcher.py): a batch holds at most batch_size texts and
    # batch_max_tokens padded tokens (texts x longest); it waits at most batch_max_wait_ms for
    # company when the model is idle. Queues are bounded: /classify gets 429 beyond
    # queue_interactive, the stream consumer waits beyond queue_stream.
    batch_size: int = Field(default=32, ge=1)
    # Unset: 16384 tokens and 2 ms on CUDA; on CPU max_length tokens (one full-length text, or
    # several short ones) and no wait: there a batch of long texts runs slower per text than
    # one text alone (padding, cache misses) and only short texts gain from batching
    # (docs/benchmarks.md). Under load batches form anyway: texts queue while the model runs.
    batch_max_tokens: int | None = Field(default=None, ge=1)
    batch_max_wait_ms: float | None = Field(default=None, ge=0.0)
    queue_interactive: int = Field(default=256, ge=1)
    queue_stream: int = Field(default=256, ge=1)
    # Near-duplicate suppression: an item at least this cosine-similar to one already queued
    # or labeled is not routed again (1.0 turns it off for all but exact copies).
    dup_threshold: float = Field(default=0.95, ge=0.0, le=1.0)
    index_device: Literal["auto", "cpu", "gpu"] = "auto"

    def token_budget(self, device: str) -> int:
        if self.batch_max_tokens is not None:
            return self.batch_max_tokens
        return 16384 if device.startswith("cuda") else self.max_length

    def max_wait_s(self, device: str) -> float:
        if self.batch_max_wait_ms is not None:
            return self.batch_max_wait_ms / 1000
        return 0.002 if device.startswith("cuda") else 0.0
    max_body_bytes: int = Field(default=524_288, ge=1024)
    classify_max_chars: int = Field(default=100_000, ge=1)
    # Selection (services/common/selection, docs/evaluation.md): which items go to review.
    # "default" is the strategy the evaluation chose; others: see selection.strategy_names().
    selection_strategy: str = "default"
    # Labels asked for, as a fraction of the stream: never more than label_budget x items
    # scored (plus a warm-up allowance of 100 items' worth that shrinks to nothing by item
    # 1000, so cold start can ask first); with the global budget it holds for all scorer
    # processes together (counters in the store), audit labels included.
    label_budget: float = Field(default=0.1, gt=0.0, le=1.0)
    # Uniform random share of the stream sent to review tagged "audit" (at most a quarter of
    # the budget for a two-class model, half from three classes): the only labels the
    # unbiased accuracy estimate (GET /v1/audit) uses, and most of the fair records the
    # trainer fits the model's confidence on.
    audit_share: float = Field(default=DEFAULT_AUDIT_SHARE, ge=0.0, le=1.0)
    global_budget: bool = True
    # Budget saved (spent below label_budget, e.g. under queue pressure) is banked up to this
    # many items' worth and forfeit beyond, so a long quiet spell cannot turn into a burst.
    budget_bank_items: int = Field(default=1000, ge=0)
    # Queue-aware: when the review backlog exceeds this many seconds of reviewer throughput,
    # the budget shrinks in proportion (the effective threshold rises) until it drains.
    queue_horizon_s: float = Field(default=900.0, gt=0)
    queue_poll_s: float = Field(default=5.0, gt=0)
    selection_seed: int | None = None

    @field_validator("selection_strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        from services.common.selection import strategy_names

        if value not in strategy_names():
            raise ValueError(f"unknown strategy {value!r}; known: {', '.join(strategy_names())}")
        return value
    consumer_group: str = "scorer"
    # Share of scored documents whose embedding goes on the observations topic, for the
    # trainer's semi-supervised refinement (docs/evaluation.md). About 3.5 KB per document
    # (384 values at five decimals): lower it at high document rates (the trainer's window
    # then reaches further back); 0 turns it off.
    observe_fraction: float = Field(default=1.0, ge=0.0, le=1.0)
    # POST /v1/feedback (apps correcting a prediction): "review" queues the document for a
    # human with the app's label as a suggestion (nothing is learned until one confirms),
    # "weighted" learns it at feedback_weight, "learn" learns it like a reviewer's label.
    feedback_mode: Literal["review", "weighted", "learn"] = "review"
    feedback_weight: float = Field(default=0.5, gt=0.0, le=1.0)
    # How long the broker may hold an empty fetch of model announcements: short, so a new
    # version reaches /classify quickly (docs/lifecycle.md).
    models_fetch_wait_ms: int = Field(default=50, ge=0)
