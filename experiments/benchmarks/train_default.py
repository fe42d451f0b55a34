"""Benchmark the main job: ``hsi-attn train`` with no options, on real Indian Pines.

Runs the default command end to end (scene loading, training, test evaluation,
full-scene prediction, run directory) through :func:`hsi_attn.cli.main` in a temporary
run directory, then prints one JSON line and writes it atomically to
``experiments/benchmarks/results/train_default.json``:

    wall_seconds, fit_seconds, predict_seconds, train_samples_per_second, epochs_run,
    oa, aa, kappa, n_train, n_test, device, torch threads, the machine's load average
    before and after, command, versions.

README.md quotes this file's ``fit_seconds``, ``oa``, ``aa`` and ``kappa`` (checked by
tests/test_readme.py): after rerunning, update the one sentence there that cites it.
Times are only comparable on a quiet machine; ``load_average_before`` /
``load_average_after`` (1, 5 and 15 minute averages from ``os.getloadavg``) say how
quiet it was.

The scene is found the usual way (``--root``, ``HSI_ATTN_DATA``, cache, tensorly copy).
Goal (issue 4): wall time <= 600 s on a 2-core CPU, OA >= 95 % at 10 % random training.

Usage::

    python experiments/benchmarks/train_default.py [--root DIR] [extra hsi-attn train options]
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

import hsi_attn
from hsi_attn.cli import main as hsi_attn_main
from hsi_attn.engine.atomic import write_json_atomic

RESULT = Path(__file__).resolve().parent / "results" / "train_default.json"


def run(extra: list[str]) -> dict[str, object]:
    """Train the default command once and collect the figures."""
    with tempfile.TemporaryDirectory(prefix="hsi-attn-bench-") as tmp:
        out = Path(tmp) / "run"
        argv = ["train", "--out", str(out), "--quiet", *extra]
        load_before = os.getloadavg()
        started = time.perf_counter()
        # The CLI's result table goes to stderr so stdout holds only the JSON line.
        with contextlib.redirect_stdout(sys.stderr):
            code = hsi_attn_main(argv)
        wall = time.perf_counter() - started
        load_after = os.getloadavg()
        if code != 0:
            raise SystemExit(f"hsi-attn {' '.join(argv)} failed with exit status {code}")
        metrics = json.loads((out / "metrics.json").read_text())
        config = json.loads((out / "config.json").read_text())
    test, timing = metrics["test"], metrics["timing"]
    return {
        "benchmark": "train_default",
        "command": " ".join(["hsi-attn", "train", *extra]),
        "wall_seconds": round(wall, 2),
        "fit_seconds": round(timing["fit_seconds"], 2),
        "predict_seconds": round(timing["predict_seconds"], 2),
        "train_samples_per_second": round(timing["train_samples_per_second"], 1),
        "epochs_run": metrics["epochs_run"],
        "best_epoch": metrics["best_epoch"],
        "oa": test["oa"],
        "aa": test["aa"],
        "kappa": test["kappa"],
        "n_train": metrics["n_train"],
        "n_test": metrics["n_test"],
        "scene": metrics["scene"],
        "model": metrics["model"],
        "attention": metrics["attention"],
        "profile": metrics["profile"],
        "config": {k: config[k] for k in ("data", "model", "train")},
        "device": metrics["device"],
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "platform": platform.platform(),
        "hsi_attn_version": hsi_attn.__version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


if __name__ == "__main__":
    result = run(sys.argv[1:])
    line = json.dumps(result)
    print(line)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RESULT, result)
