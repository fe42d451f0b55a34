"""Shared helpers of the benchmark scripts: stable allocator, device name, JSON output.

Not part of the package: benchmarks are scripts, not tests. Each one compares within
one process (A vs B in the same run) because absolute times on shared machines drift.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

import hsi_attn
from hsi_attn.engine.atomic import write_text_atomic
from hsi_attn.engine.device import describe_device

RESULTS = Path(__file__).resolve().parent / "results"

# glibc returns large freed blocks to the OS and page-faults them back on the next
# batch; with these thresholds the allocator keeps them, and timings stop varying by up
# to 1.8x from one process to the next. The tunable asks glibc (2.35 and later; older
# versions ignore it) to back its heap with transparent huge pages, as Linux does by
# itself where THP is "always" (here it is "madvise"): tensors of tens of MB then cost
# far fewer TLB misses. It applies to the whole process, the matmul reference included.
ALLOCATOR_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "17179869184",
    "MALLOC_TRIM_THRESHOLD_": "17179869184",
    "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",
}


def allocator_env(environ: Mapping[str, str]) -> dict[str, str]:
    """:data:`ALLOCATOR_ENV`, keeping any other glibc tunables already in ``environ``."""
    hugetlb = ALLOCATOR_ENV["GLIBC_TUNABLES"]
    others = [
        item for item in environ.get("GLIBC_TUNABLES", "").split(":")
        if item and item.split("=")[0] != hugetlb.split("=")[0]
    ]
    return {**ALLOCATOR_ENV, "GLIBC_TUNABLES": ":".join([*others, hugetlb])}


def ensure_stable_allocator() -> None:
    """Re-execute this script with the allocator settings unless they are already set."""
    wanted = allocator_env(os.environ)
    if all(os.environ.get(k) == v for k, v in wanted.items()):
        return
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **wanted})


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn: Callable[[], Any], *, repeats: int, device: torch.device) -> float:
    """Smallest wall time of ``repeats`` calls after one warm-up call."""
    fn()
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(device: torch.device, *, size: int = 4096, repeats: int = 5) -> float:
    """GFLOP/s of a large float32 matrix multiply (2 n^3 FLOPs) on ``device``."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    seconds = best_time(lambda: a @ b, repeats=repeats, device=device)
    return 2 * size**3 / seconds / 1e9


def provenance(device: torch.device) -> dict[str, Any]:
    """Command, device and versions to record with every result."""
    return {
        "command": " ".join(["python", *sys.argv]),
        "device": describe_device(device),
        "torch": torch.__version__,
        "hsi_attn": hsi_attn.__version__,
        "allocator": {k: os.environ.get(k) for k in ALLOCATOR_ENV},
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_result(name: str, result: dict[str, Any], *, write: bool = True) -> None:
    """Print ``result`` as one JSON line and write it atomically to ``results/<name>.json``."""
    line = json.dumps(result, sort_keys=True)
    print(line, flush=True)
    if write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        write_text_atomic(RESULTS / f"{name}.json", line + "\n")
