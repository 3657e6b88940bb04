"""Transformer encoder on torch: mean pooling over the attention mask, then L2 normalization."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from services.common.encoding.base import Encoder, Tokenized
from services.common.encoding.tokens import HFTokens

log = logging.getLogger(__name__)


class TorchEncoder(Encoder):
    def __init__(
        self, model_path: str, device: str = "auto", max_length: int = 256,
        half: bool | None = None,
    ) -> None:
        """``half``: fp16 weights; by default on CUDA only (CPU fp16 is slower than fp32)."""
        # Nothing is fetched from a hub at run time: the model is a local path.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel

        self._torch = torch
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.max_length = max_length
        self._tokens = HFTokens(model_path, max_length)
        self.tokenizer = self._tokens.tokenizer
        model = AutoModel.from_pretrained(model_path)
        model.eval()
        self.half = device.startswith("cuda") if half is None else half
        if self.half:
            model = model.half()  # fp16 on GPU: twice the throughput, cosine ~1.0 vs fp32
        self.model = model.to(device)
        self.dim = int(model.config.hidden_size)
        precision = "fp16" if self.half else "fp32"
        self.name = f"torch-{precision}:{os.path.basename(str(model_path).rstrip('/'))}:{device}"
        log.info("loaded %s (dim=%d, max_length=%d)", self.name, self.dim, max_length)

    def tokenize(self, texts: list[str]) -> list[Tokenized]:
        return self._tokens.tokenize(texts)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [item.n_tokens for item in self.tokenize(texts)]

    def collate(self, items: list[Tokenized]) -> Any:
        arrays = self._tokens.collate(items)
        batch = {k: self._torch.from_numpy(v) for k, v in arrays.items()}
        if self.device.startswith("cuda"):
            # Pinned host memory lets the copy to the GPU overlap with the previous batch.
            batch = {k: v.pin_memory() for k, v in batch.items()}
        return batch

    def run(self, batch: Any) -> np.ndarray:
        if not batch or len(batch["input_ids"]) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch = self._torch
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
        return pooled.cpu().numpy().astype(np.float32, copy=False)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.run(self.collate(self.tokenize(texts)))
