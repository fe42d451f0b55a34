"""Seed-paired comparison of `hsi-attn train --runs N` folders against a baseline folder.

Each folder holds ``seed*/metrics.json`` (and ``config.json``) written by
``hsi-attn train --runs N --out DIR``. For every candidate the script reports the mean
and sample std of test OA, the per-seed differences from the baseline on the seeds both
have, how many seeds improved, and the paired t-test p-value; it also records whether
the two folders were tested on the same pixels (a spatially disjoint split depends on
the patch size through its guard band, so a patch-size change also changes the test set).

Run:  python experiments/compare_runs.py --baseline runs/base --candidate runs/a runs/b \\
          --out experiments/results/NAME/compare
Writes ``<out>.json`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

import hsi_attn
from hsi_attn.engine.atomic import write_json_atomic, write_text_atomic


def _runs(folder: Path) -> dict[int, dict[str, Any]]:
    runs = {}
    for metrics_path in sorted(folder.glob("seed*/metrics.json")):
        metrics = json.loads(metrics_path.read_text())
        config = json.loads((metrics_path.parent / "config.json").read_text())
        config = config.get("config", config)
        runs[int(config["train"]["seed"])] = {"oa": metrics["test"]["oa"],
                                              "n_test": metrics["n_test"], "config": config}
    if not runs:
        raise SystemExit(f"no seed*/metrics.json under {folder}")
    return runs


def _differences(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    changed = {}
    for section in ("data", "model", "train"):
        for key, value in other[section].items():
            if key != "seed" and base[section].get(key) != value:
                changed[f"{section}.{key}"] = value
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--candidate", type=Path, nargs="+", required=True)
    parser.add_argument("--out", type=Path, required=True, help="result path without suffix")
    args = parser.parse_args()
    base = _runs(args.baseline)
    base_seed = next(iter(base.values()))
    rows = []
    for folder in args.candidate:
        runs = _runs(folder)
        seeds = sorted(set(runs) & set(base))
        diff = np.array([runs[s]["oa"] - base[s]["oa"] for s in seeds])
        same_pixels = all(runs[s]["n_test"] == base[s]["n_test"] for s in seeds)
        rows.append({
            "folder": str(folder),
            "changes": _differences(base_seed["config"], next(iter(runs.values()))["config"]),
            "seeds": seeds, "oa": [runs[s]["oa"] for s in seeds],
            "baseline_oa": [base[s]["oa"] for s in seeds],
            "mean": float(np.mean([runs[s]["oa"] for s in seeds])),
            "std": float(np.std([runs[s]["oa"] for s in seeds], ddof=1)),
            "mean_difference": float(diff.mean()), "wins": int((diff > 0).sum()),
            "p_value": (float(stats.ttest_rel([runs[s]["oa"] for s in seeds],
                                              [base[s]["oa"] for s in seeds]).pvalue)
                        if len(seeds) > 1 and np.ptp(diff) > 0 else None),
            "same_test_pixels": same_pixels,
        })
    base_oas = [v["oa"] for v in base.values()]
    command = " ".join(["python", *sys.argv])
    lines = [
        f"Produced by `{command}`. Test OA in %, mean ± sample std over seeds; differences "
        "are candidate minus baseline on the same seeds.", "",
        f"Baseline `{args.baseline}`: {100 * np.mean(base_oas):.2f} ± "
        f"{100 * np.std(base_oas, ddof=1):.2f} over {len(base_oas)} seeds.", "",
        "| candidate | changes | OA | paired diff (points) | wins | p | same test pixels |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        p = "n/a" if row["p_value"] is None else f"{row['p_value']:.3g}"
        changes = ", ".join(f"{k}={v}" for k, v in row["changes"].items()) or "none"
        lines.append(
            f"| `{row['folder']}` | {changes} | {100 * row['mean']:.2f} ± {100 * row['std']:.2f} "
            f"| {100 * row['mean_difference']:+.2f} | {row['wins']}/{len(row['seeds'])} | {p} "
            f"| {'yes' if row['same_test_pixels'] else 'no'} |"
        )
    table = "\n".join(lines) + "\n"
    write_json_atomic(args.out.with_suffix(".json"), {
        "command": command, "hsi_attn": hsi_attn.__version__,
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "baseline": {"folder": str(args.baseline), "oa": base_oas}, "candidates": rows,
    })
    write_text_atomic(args.out.with_suffix(".md"), table)
    print(table)


if __name__ == "__main__":
    main()
