"""The ONNX export hides its known-harmless chatter, and only while it runs."""

from __future__ import annotations

import logging
import warnings

import torch
from transformers.utils import logging as hf_logging

from services.common.encoding.onnx_export import _quiet_export


def test_tracer_warnings_fusion_logs_and_progress_bars_are_hidden_then_restored(caplog):
    hf_logging.enable_progress_bar()
    fusion = logging.getLogger("fusion_base")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with _quiet_export(), caplog.at_level(logging.INFO):
            warnings.warn("might cause the trace to be incorrect", torch.jit.TracerWarning,
                          stacklevel=1)
            warnings.warn("Exporting aten::index operator of advanced indexing", UserWarning,
                          stacklevel=1)
            fusion.info("Fused Gelu: 6")
            assert not hf_logging.is_progress_bar_enabled()
        assert [str(w.message) for w in seen] == []
        assert "Fused Gelu" not in caplog.text
        # Outside the export everything is as before: other warnings still show.
        warnings.warn("something else", UserWarning, stacklevel=1)
        assert [str(w.message) for w in seen] == ["something else"]
    assert hf_logging.is_progress_bar_enabled()
    assert fusion.level == logging.NOTSET
