"""Tokenization shared by the torch and ONNX backends: tokenize once, pad later.

Uses the ``tokenizers`` library on the model's tokenizer.json directly (same ids as
transformers' AutoTokenizer, checked in tests) because importing transformers' tokenizer pulls
in torch: ~250 MB of resident memory the ONNX scorer otherwise never needs.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from services.common.encoding.base import Tokenized


class HFTokens:
    """Truncating tokenizer (special tokens included) plus right padding to the longest text."""

    def __init__(self, model_path: str, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.max_length = max_length
        self.tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
        # tokenizer.json ships its own padding/truncation defaults (128): ours replace them.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        # One caller at a time keeps tokenization predictable next to the model's threads.
        self._lock = threading.Lock()

    def tokenize(self, texts: list[str]) -> list[Tokenized]:
        if not texts:
            return []
        with self._lock:
            encoded = self.tokenizer.encode_batch(texts)
        return [Tokenized(t, len(e.ids), e.ids) for t, e in zip(texts, encoded, strict=True)]

    def collate(self, items: list[Tokenized]) -> dict[str, np.ndarray]:
        """input_ids, attention_mask, token_type_ids as int64 arrays (batch, longest)."""
        width = max((item.n_tokens for item in items), default=0)
        ids = np.full((len(items), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(items), width), dtype=np.int64)
        for row, item in enumerate(items):
            if item.ids is None:
                raise ValueError("collate needs items from this encoder's tokenize()")
            ids[row, : item.n_tokens] = item.ids
            mask[row, : item.n_tokens] = 1
        # One segment per text: token types are all zero, as the tokenizer would produce.
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
