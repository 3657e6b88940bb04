"""The int8 ONNX encoder against torch fp32 on real 20 Newsgroups texts.

Slow the first time (export + quantization, ~30-60 s; cached under .cache/onnx afterwards,
then ~10 s), hence here rather than in the unit suite.
"""

from __future__ import annotations

import numpy as np
import pytest

from services.common.datasets import load
from services.common.encoding import make_encoder

pytestmark = pytest.mark.integration


def test_onnx_int8_agrees_with_torch_fp32_on_20ng():
    texts = [e.text for e in load("20ng", "test")[:64]]
    reference = make_encoder("torch", device="cpu").encode(texts)
    onnx = make_encoder("onnx")
    got = onnx.encode(texts)
    assert got.shape == reference.shape == (64, 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cosine = np.sum(got * reference, axis=1)
    assert cosine.mean() >= 0.98, cosine.mean()
    assert cosine.min() >= 0.95, cosine.min()
    # Dynamic int8 scales activations per batch, so a text's vector depends slightly on its
    # batch mates (and their padding); it must stay as close to torch alone as in a batch.
    alone = np.stack([onnx.encode([t])[0] for t in texts[:8]])
    assert np.sum(alone * reference[:8], axis=1).min() >= 0.95
    assert np.sum(alone * got[:8], axis=1).mean() >= 0.98


def test_tokenizer_ids_match_transformers():
    from transformers import AutoTokenizer

    from services.common.encoding import default_model_path
    from services.common.encoding.tokens import HFTokens

    texts = [e.text for e in load("20ng", "test")[:300]] + ["", "Ünïcödé — “quotes” 日本語"]
    ours = [item.ids for item in HFTokens(default_model_path(), 256).tokenize(texts)]
    theirs = AutoTokenizer.from_pretrained(default_model_path())(
        texts, truncation=True, max_length=256)["input_ids"]
    assert [list(ids) for ids in ours] == theirs
