"""Mixed precision: which autocast dtype a device gets, and whether it needs a scaler.

``"auto"`` picks bfloat16 on a CUDA device that supports it and float32 everywhere else
(on CPUs bf16 autocast is often slower than fp32 and changes results, so it is opt-in).
float16 is only offered where its gradients can be scaled (CUDA) or the backend is built
for it (MPS); on CUDA it comes with a :class:`torch.amp.GradScaler`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

__all__ = ["Precision", "resolve_precision"]

_CHOICES = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Precision:
    """A resolved precision policy.

    Attributes:
        name: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        dtype: Autocast dtype, or None for plain float32.
        device_type: ``"cuda"``, ``"cpu"`` or ``"mps"``.
        use_scaler: Whether losses must be scaled (fp16 on CUDA).
    """

    name: str
    dtype: torch.dtype | None
    device_type: str
    use_scaler: bool

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Context manager running the forward pass in this precision."""
        if self.dtype is None:
            yield
            return
        with torch.autocast(device_type=self.device_type, dtype=self.dtype):
            yield

    def make_scaler(self) -> torch.amp.GradScaler | None:
        """A gradient scaler for fp16 on CUDA, else None."""
        return torch.amp.GradScaler("cuda") if self.use_scaler else None


def resolve_precision(precision: str, device: torch.device) -> Precision:
    """Choose the precision policy for ``device``.

    Args:
        precision: ``"auto"``, ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        device: The device training runs on.

    Raises:
        ValueError: If the name is unknown or the device cannot run it.
    """
    name = str(precision).strip().lower()
    if name not in _CHOICES:
        raise ValueError(f"unknown precision {precision!r}. Accepted: {', '.join(_CHOICES)}.")
    kind = device.type
    if name == "auto":
        name = "bf16" if kind == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if name == "fp32":
        return Precision("fp32", None, kind, False)
    if name == "bf16":
        if kind == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError(
                f"precision 'bf16' is not supported by {torch.cuda.get_device_name(device)}; "
                "use --precision fp16 or fp32."
            )
        return Precision("bf16", torch.bfloat16, kind, False)
    if kind not in ("cuda", "mps"):
        raise ValueError(
            f"precision 'fp16' needs a CUDA or MPS device, but training runs on {device}; "
            "use --precision bf16 or fp32 on the CPU."
        )
    return Precision("fp16", torch.float16, kind, kind == "cuda")
