"""Turn a user's device string into a :class:`torch.device`, or explain why not.

``"auto"`` prefers CUDA, then Apple's MPS, then the CPU. An explicit request for a
device that is not there is an error, never a silent fallback: a run the user asked to
put on a GPU must not quietly take hours on the CPU.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

__all__ = ["available_devices", "describe_device", "resolve_device"]

_KINDS = ("auto", "cpu", "cuda", "cuda:N", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Resolve ``device`` to an available :class:`torch.device`.

    Args:
        device: ``"auto"`` (or None), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or
            a :class:`torch.device`.

    Returns:
        The device to run on.

    Raises:
        ValueError: If the string is not a device name, or names a device that this
            machine does not have (the message says what is available).
    """
    if device is None:
        device = "auto"
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be a string such as 'cpu', got {device!r}")
    name = device.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(
            f"unknown device {device!r}. Accepted: {', '.join(_KINDS)}."
        ) from None
    if resolved.type == "cpu":
        return resolved
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} was requested but CUDA is not available on this machine "
                f"(torch {torch.__version__}, available: {', '.join(available_devices())}). "
                "Use --device cpu or --device auto."
            )
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(
                f"device {device!r} does not exist: this machine has {count} CUDA device(s), "
                f"cuda:0 to cuda:{count - 1}."
            )
        return resolved
    if resolved.type == "mps":
        if not _mps_available():
            raise ValueError(
                f"device {device!r} was requested but MPS is not available on this machine "
                f"(available: {', '.join(available_devices())}). Use --device cpu or auto."
            )
        return resolved
    raise ValueError(f"unsupported device {device!r}. Accepted: {', '.join(_KINDS)}.")


def available_devices() -> list[str]:
    """Names of the devices this machine offers, CPU last."""
    names = []
    if torch.cuda.is_available():
        names = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        names.append("mps")
    names.append("cpu")
    return names


def describe_device(device: str | torch.device) -> str:
    """A human-readable name of ``device`` on this machine, for result files and tables.

    ``"cpu"`` becomes e.g. ``"cpu: Intel(R) Xeon(R) Processor, 2 logical cores, torch
    threads 1"``; a CUDA device gets its GPU name. Anything else, including a string
    torch cannot parse as a device (e.g. ``"unknown"`` in an old result file), is
    returned as given.
    """
    try:
        resolved = torch.device(device)
    except RuntimeError:
        return str(device)
    if resolved.type == "cuda" and torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(resolved)}"
    if resolved.type != "cpu":
        return str(resolved)
    model = platform.processor() or "unknown processor"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {model}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}"
