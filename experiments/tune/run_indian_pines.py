"""The recorded tuning study: eca_band kernel size vs se_band reduction ratio on Indian Pines.

20 trials, each a short training (6 epochs, 5x5 patches, all 200 bands) on the 10 %
random training split, scored on the 5 % validation split, median pruning, TPE over
``experiments/tune/search_space.toml`` (attention in {eca_band, se_band}; reduction only
for se_band, kernel size only for eca_band; lr and weight decay log-uniform), two worker
processes on a journal file. The best configuration is then retrained once and
evaluated once on the test split. Outputs go to ``experiments/results/tune_indian_pines``;
this script adds ``run_summary.json`` (wall time, device, threads) and prints it as one
JSON line. Re-running it resumes the study.

Usage::

    HSI_ATTN_DATA=/path/to/scenes python experiments/tune/run_indian_pines.py
    # the same study without pruning, 8 epochs per trial, into tune_indian_pines_nopruning:
    python experiments/tune/run_indian_pines.py --pruner none --epochs 8 --suffix _nopruning
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

import hsi_attn
from hsi_attn.engine.atomic import write_json_atomic

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"


def study_argv(out: Path, *, epochs: int, pruner: str) -> list[str]:
    """The ``hsi-attn tune`` arguments of the recorded study."""
    return [
        "tune", "--scene", "indian_pines", "--model", "resnet3d", "--split", "random",
        "--train-size", "0.1", "--val-size", "0.05", "--patch-size", "5",
        "--epochs", str(epochs), "--batch-size", "64", "--device", "cpu", "--seed", "0",
        "--search-space", str(HERE / "search_space.toml"),
        "--n-trials", "20", "--pruner", pruner, "--sampler", "tpe", "--workers", "2",
        "--study-name", "indian_pines-eca_band-vs-se_band", "--out", str(out),
    ]


def main() -> int:
    """Run (or resume) the study through the command line and record the wall time."""
    import argparse

    from hsi_attn.cli import main as hsi_attn_main

    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--epochs", type=int, default=6, help="epochs per trial (default 6)")
    options.add_argument("--pruner", default="median", help="pruner (default median)")
    options.add_argument("--suffix", default="", help="appended to tune_indian_pines")
    chosen = options.parse_args()
    out = RESULTS / f"tune_indian_pines{chosen.suffix}"
    argv = study_argv(out, epochs=chosen.epochs, pruner=chosen.pruner)

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker, 2 workers
    started = time.perf_counter()
    status = hsi_attn_main(argv)
    wall = time.perf_counter() - started
    if status != 0:
        return status
    best = json.loads((out / "best_params.json").read_text())
    summary = {
        "benchmark": "tune_indian_pines",
        "command": "hsi-attn " + " ".join(argv),
        "wall_seconds": round(wall, 1),
        "validation_oa": best["validation_oa"],
        "test_oa": best["test_oa"],
        "best_params": best["best_params"],
        "trial_counts": best["trial_counts"],
        "device": f"cpu ({platform.machine()}, {os.cpu_count()} cores, "
                  f"{os.environ['OMP_NUM_THREADS']} thread(s) per worker, 2 workers)",
        "torch": torch.__version__,
        "hsi_attn": hsi_attn.__version__,
    }
    write_json_atomic(out / "run_summary.json", summary)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
