"""Test-time augmentation on finished runs: each run's test OA without and with TTA.

TTA changes nothing in training, so its effect is measured on the very models an
experiment trained: every run directory under ``--runs`` is evaluated twice on its own
test pixels (``hsi_attn.run.evaluate_run`` with ``tta=False`` and ``tta=True``: the test
windows averaged over the 8 flips and quarter turns), and the per-cell table gives the
mean OA both ways and the seed-paired difference (paired t-test over the seeds).

Run:  python experiments/tta_paired.py --runs experiments/results/indian_pines_fixed/runs \\
          --out experiments/results/indian_pines_fixed/tta
Writes ``<out>.json`` (every run's two OAs, the cells, command, versions, device) and
``<out>.md`` (the table).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

import hsi_attn
from hsi_attn.engine.atomic import write_json_atomic, write_text_atomic
from hsi_attn.engine.device import describe_device
from hsi_attn.run import evaluate_run


def _runs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("metrics.json") if (p.parent / "checkpoint.pt").exists())


def _cells(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(record["model"], record["attention"])].append(record)
    cells = []
    for (model, attention), runs in sorted(groups.items()):
        plain = np.array([r["oa"] for r in runs])
        tta = np.array([r["oa_tta"] for r in runs])
        diff = tta - plain
        p_value = (float(stats.ttest_rel(tta, plain).pvalue)
                   if len(runs) > 1 and np.ptp(diff) > 0 else None)
        cells.append({
            "model": model, "attention": attention, "seeds": [r["seed"] for r in runs],
            "oa": float(plain.mean()), "oa_std": float(plain.std(ddof=1)) if len(runs) > 1 else None,
            "oa_tta": float(tta.mean()),
            "oa_tta_std": float(tta.std(ddof=1)) if len(runs) > 1 else None,
            "mean_difference": float(diff.mean()), "wins": int((diff > 0).sum()),
            "p_value": p_value,
        })
    return cells


def _table(cells: list[dict[str, Any]], command: str, device: str) -> str:
    def pm(mean: float, std: float | None) -> str:
        return f"{100 * mean:.2f}" + ("" if std is None else f" ± {100 * std:.2f}")

    lines = [
        "# Test-time augmentation on the trained runs", "",
        f"Produced by `{command}` on {device}. OA in %, mean ± sample std over seeds; the "
        "same trained models evaluated without and with TTA (8 flips and quarter turns of "
        "each test window, averaged).", "",
        "| model | attention | seeds | OA | OA with TTA | paired diff (points) | wins | p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        p = "n/a" if c["p_value"] is None else f"{c['p_value']:.3g}"
        lines.append(
            f"| {c['model']} | {c['attention']} | {len(c['seeds'])} | {pm(c['oa'], c['oa_std'])} "
            f"| {pm(c['oa_tta'], c['oa_tta_std'])} | {100 * c['mean_difference']:+.2f} "
            f"| {c['wins']}/{len(c['seeds'])} | {p} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True, help="folder holding run directories")
    parser.add_argument("--out", type=Path, required=True, help="result path without suffix")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    records = []
    for run in _runs(args.runs):
        config = json.loads((run / "config.json").read_text())
        config = config.get("config", config)
        records.append({
            "run": str(run), "model": config["model"]["name"],
            "attention": config["model"]["attention"], "seed": config["train"]["seed"],
            "oa": evaluate_run(run, device="cpu", tta=False)["oa"],
            "oa_tta": evaluate_run(run, device="cpu", tta=True)["oa"],
        })
    command = " ".join(["python", *sys.argv])
    device = describe_device(torch.device("cpu"))
    cells = _cells(records)
    write_json_atomic(args.out.with_suffix(".json"), {
        "command": command, "device": device, "hsi_attn": hsi_attn.__version__,
        "torch": torch.__version__, "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": records, "cells": cells,
    })
    write_text_atomic(args.out.with_suffix(".md"), _table(cells, command, device))
    print(_table(cells, command, device))


if __name__ == "__main__":
    main()
