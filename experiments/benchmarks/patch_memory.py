"""Peak memory of iterating patches over a Pavia-University-sized scene.

Claim checked (issue 3): iterating over all 42,776 labelled pixels of a 610x340x103
cube (synthetic values) with 25x25 patches in batches of 256 keeps the peak resident
set size under 3x the cube's bytes plus 300 MB, because only one batch is ever
materialised. For scale, materialising every patch would take
42,776 x 103 x 25 x 25 x 4 bytes, about 11 GB.

Run:  python experiments/benchmarks/patch_memory.py
Prints one JSON line and writes it to experiments/benchmarks/results/patch_memory.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

import hsi_attn
from hsi_attn.data.batches import PatchSource
from hsi_attn.data.patches import PatchSampler
from hsi_attn.engine.atomic import write_text_atomic

RESULT = Path(__file__).resolve().parent / "results" / "patch_memory.json"


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) * (1 if sys.platform == "darwin" else 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=610)
    parser.add_argument("--width", type=int, default=340)
    parser.add_argument("--bands", type=int, default=103)
    parser.add_argument("--labelled", type=int, default=42776)
    parser.add_argument("--patch-size", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    rss_before_cube = peak_rss_bytes()
    cube = rng.random((args.height, args.width, args.bands), dtype=np.float32)
    flat = rng.choice(args.height * args.width, size=args.labelled, replace=False)
    coords = np.stack(np.unravel_index(np.sort(flat), (args.height, args.width)), axis=1)
    labels = rng.integers(1, 10, size=args.labelled)

    start = time.perf_counter()
    sampler = PatchSampler(cube, args.patch_size, pad_mode="reflect")
    rss_after_sampler = peak_rss_bytes()
    generator = torch.Generator().manual_seed(args.seed)
    seen = 0
    checksum = 0.0
    source = PatchSource.from_cube(sampler, coords, labels, batch_size=args.batch_size,
                                   shuffle=True)
    for x, y in source.batches(generator):
        seen += len(y)
        checksum += float(x[:, 0, 0, args.patch_size // 2, args.patch_size // 2].sum())
    seconds = time.perf_counter() - start

    cube_bytes = cube.nbytes
    bound = 3 * cube_bytes + 300 * 2**20
    peak = peak_rss_bytes()
    record = {
        "benchmark": "patch_memory",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "device": f"cpu ({platform.processor() or platform.machine()}, "
                  f"{torch.get_num_threads()} torch threads)",
        "torch": torch.__version__,
        "hsi_attn": hsi_attn.__version__,
        "cube_shape": [args.height, args.width, args.bands],
        "patch_size": args.patch_size,
        "batch_size": args.batch_size,
        "pixels": seen,
        "cube_bytes": cube_bytes,
        "peak_rss_bytes": peak,
        "rss_before_cube_bytes": rss_before_cube,
        "rss_after_sampler_bytes": rss_after_sampler,
        "batch_bytes": args.batch_size * args.bands * args.patch_size**2 * 4,
        "note": "the cube stays alive during iteration and a plain for-loop holds the "
                "previous batch while the next is gathered (two batches at peak)",
        "bound_bytes": bound,
        "within_bound": peak < bound,
        "peak_over_bound": round(peak / bound, 3),
        "materialised_patches_bytes": seen * args.bands * args.patch_size**2 * 4,
        "seconds": round(seconds, 2),
        "patches_per_second": round(seen / seconds, 1),
        "center_checksum": round(checksum, 3),
    }
    line = json.dumps(record)
    print(line)
    if not args.no_write:
        RESULT.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(RESULT, line + "\n")


if __name__ == "__main__":
    main()
