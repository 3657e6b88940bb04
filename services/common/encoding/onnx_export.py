"""Export the packaged transformer to ONNX, fuse it and quantize it to int8, once, with a manifest.

The artifact is built on first use and cached under ``cache_dir/<model>-<fingerprint>/``. The
fingerprint covers the source weights and the recipe, so a new model or a new recipe never
reuses an old file. A manifest next to the file records its sha256; a file that does not match
(truncated copy, disk error, tampering) is rebuilt rather than loaded.

Recipe, and why:
- eager attention for the export: the SDPA path traces to gathers the fusion pass cannot see;
  the eager pattern fuses into one ``Attention`` op per layer (quantized to ``QAttention``).
- the TorchScript exporter (``dynamo=False``): the dynamo exporter needs onnxscript, and the
  legacy one handles this graph with dynamic batch and sequence axes in ~2 s.
- mean pooling and L2 normalization inside the graph: the session returns (batch, dim).
- dynamic int8 quantization with per-channel weights: per-tensor scales lose too much
  (cosine to fp32 drops well below 0.98); per-channel keeps it at ~0.99 on 20 Newsgroups.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RECIPE = "minilm-meanpool-l2/eager/opset17/ort-fused/dynamic-int8-per-channel/v1"
ARTIFACT = "model.int8.onnx"
MANIFEST = "manifest.json"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_CHECK_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Graphics cards with more memory render large scenes faster.",
    "short",
    "Hockey playoffs: the home team won in overtime after a long and tense third period, "
    "while the visitors complained about the referee.",
]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_fingerprint(model_path: Path) -> str:
    """Hash of the recipe, config and weights: what the artifact is derived from."""
    h = hashlib.sha256(RECIPE.encode())
    for name in sorted(os.listdir(model_path)):
        if name.endswith((".json", ".safetensors", ".bin", ".txt")):
            h.update(name.encode())
            h.update(sha256_file(model_path / name).encode())
    return h.hexdigest()


def default_cache_dir() -> Path:
    return Path(__file__).resolve().parents[3] / ".cache" / "onnx"


def ensure_artifact(model_path: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Path of a verified int8 ONNX file for ``model_path``, building it when needed.

    Safe when several processes start at once: the build holds a file lock, and files appear
    by atomic rename only.
    """
    model_path = Path(model_path)
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    target = root / f"{model_path.name}-{source_fingerprint(model_path)[:16]}"
    # A verified artifact needs no lock (files appear only by atomic rename), and taking one
    # would fail where the export was baked into a read-only image layer.
    if _verified(target):
        return target / ARTIFACT
    target.mkdir(parents=True, exist_ok=True)
    with _locked(target / ".lock"):
        if _verified(target):
            return target / ARTIFACT
        log.info("building int8 ONNX artifact for %s in %s (one-off, ~1 min)", model_path, target)
        _build(model_path, target)
        if not _verified(target):  # pragma: no cover - would mean the build itself is broken
            raise RuntimeError(f"ONNX artifact in {target} fails its own checksum")
        return target / ARTIFACT


def _verified(target: Path) -> bool:
    manifest, artifact = target / MANIFEST, target / ARTIFACT
    if not (manifest.exists() and artifact.exists()):
        return False
    try:
        meta = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    if meta.get("recipe") != RECIPE or meta.get("sha256") != sha256_file(artifact):
        log.warning("ONNX artifact %s does not match its manifest; rebuilding", artifact)
        return False
    return True


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    def errors_only(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    root = logging.getLogger()
    root.addFilter(errors_only)
    try:
        yield
    finally:
        root.removeFilter(errors_only)


# Loggers of ORT's transformer optimizer: one INFO line per fusion pass ("Fused Gelu: 6", ...).
_FUSION_LOGGERS = ("fusion_base", "fusion_utils", "onnx_model", "onnx_model_bert")


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Hide the export's known-harmless chatter, which a newcomer reads as a fault:
    - torch's TracerWarning ("might cause the trace to be incorrect") on the attention mask's
      padding check: our inputs always carry a full mask, and ``_check`` compares the finished
      artifact with torch on texts of different lengths, refusing it if the trace were wrong;
    - the notice that ``aten::index`` becomes several ONNX ops (a fact, not a problem);
    - transformers' "Loading weights" progress bars and the fusion passes' INFO lines.
    Our own two lines (building, ready with its agreement) say what is happening instead."""
    import warnings

    import torch
    from transformers.utils import logging as hf_logging

    levels = {name: logging.getLogger(name).level for name in _FUSION_LOGGERS}
    bars = hf_logging.is_progress_bar_enabled()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r"Exporting aten::index operator")
        for name in _FUSION_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        hf_logging.disable_progress_bar()
        try:
            yield
        finally:
            if bars:
                hf_logging.enable_progress_bar()
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def _build(model_path: Path, target: Path) -> None:
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=target) as tmp_dir, _quiet_export():
        tmp = Path(tmp_dir)
        config = _export_fp32(model_path, tmp / "fp32.onnx")
        fused = _fuse(tmp / "fp32.onnx", tmp / "fused.onnx", config)
        source = tmp / ("fused.onnx" if fused else "fp32.onnx")
        with _quiet_root_logger():  # the quantizer logs one root INFO line per tensor
            quantize_dynamic(
                str(source), str(tmp / ARTIFACT), per_channel=True, weight_type=QuantType.QInt8,
                # Fused ops (ORT's com.microsoft domain) defeat shape inference; all are float.
                extra_options={"DefaultTensorType": 1},
            )
        agreement = _check(model_path, tmp / ARTIFACT)
        meta: dict[str, Any] = {
            "recipe": RECIPE,
            "source": str(model_path),
            "fused": fused,
            "sha256": sha256_file(tmp / ARTIFACT),
            "check_min_cosine": agreement,
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
        }
        os.replace(tmp / ARTIFACT, target / ARTIFACT)
        (tmp / MANIFEST).write_text(json.dumps(meta, indent=2))
        os.replace(tmp / MANIFEST, target / MANIFEST)
    log.info("ONNX artifact ready: %s (min cosine %.4f on the check texts)", target, agreement)


def _export_fp32(model_path: Path, out: Path) -> Any:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path, attn_implementation="eager").eval()
    wrapped = _mean_pooled(model)
    batch = tokenizer(_CHECK_TEXTS[:2], padding=True, return_tensors="pt")
    args = tuple(batch[name] for name in _INPUTS)
    axes = {name: {0: "batch", 1: "sequence"} for name in _INPUTS}
    with torch.inference_mode():
        torch.onnx.export(
            wrapped, args, str(out), input_names=list(_INPUTS), output_names=["embedding"],
            dynamic_axes=axes | {"embedding": {0: "batch"}}, opset_version=17, dynamo=False,
        )
    return model.config


def _mean_pooled(model: Any) -> Any:
    """The transformer plus mean pooling and L2 normalization, as one exportable module."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return MeanPooled(model)


def _fuse(src: Path, out: Path, config: Any) -> bool:
    """ORT's transformer fusions (attention, layer norm, GELU); unfused still works if they fail."""
    try:
        from onnxruntime.transformers import optimizer

        opt = optimizer.optimize_model(
            str(src), model_type="bert", num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size), opt_level=1, use_gpu=False,
        )
        opt.save_model_to_file(str(out))
        return True
    except Exception:  # the fusion tool is best effort across ORT versions
        log.warning("ONNX fusion failed; quantizing the unfused graph", exc_info=True)
        return False


def _check(model_path: Path, artifact: Path) -> float:
    """Minimum cosine between the artifact and torch fp32 on a few texts; refuse a bad build."""
    import numpy as np

    from services.common.encoding.onnx_backend import OnnxEncoder
    from services.common.encoding.torch_backend import TorchEncoder

    reference = TorchEncoder(str(model_path), device="cpu").encode(_CHECK_TEXTS)
    got = OnnxEncoder.from_file(str(model_path), artifact).encode(_CHECK_TEXTS)
    cosine = float(np.min(np.sum(reference * got, axis=1)))
    if cosine < 0.95:
        raise RuntimeError(f"int8 ONNX export disagrees with torch (min cosine {cosine:.3f})")
    return cosine
