"""Seed-paired comparison of run folders, or of experiment grids, against a baseline.

A folder is either ``hsi-attn train --runs N --out DIR`` output (``seed*/metrics.json``
and ``config.json``), or an ``hsi-attn experiment`` results folder (``runs.json``), whose
cells (protocol, model, attention) are compared with the baseline's same cell. For every
candidate (cell) the script reports the mean and sample std of test OA, the per-seed
differences from the baseline on the seeds both have, how many seeds improved, and the
paired t-test p-value; it also records whether the two were tested on the same pixels (a
spatially disjoint split depends on the patch size through its guard band, so a
patch-size change also changes the test set).

Run:  python experiments/compare_runs.py --baseline runs/base --candidate runs/a runs/b \\
          --out experiments/results/NAME/compare
      python experiments/compare_runs.py --baseline experiments/results/indian_pines_fixed \\
          --candidate experiments/results/indian_pines_fixed_recipe --out ...
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
from hsi_attn.config import RunConfig
from hsi_attn.engine.atomic import write_json_atomic, write_text_atomic


def _runs(folder: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """Cell name -> seed -> OA, test size and configuration; one cell ("") for run folders."""
    if (folder / "runs.json").is_file():
        cells: dict[str, dict[int, dict[str, Any]]] = {}
        for run in json.loads((folder / "runs.json").read_text()):
            config, metrics = run["config"], run["metrics"]
            cell = f"{run['protocol']}/{config['model']['name']}-{config['model']['attention']}"
            cells.setdefault(cell, {})[int(config["train"]["seed"])] = {
                "oa": metrics["test"]["oa"], "n_test": metrics["n_test"], "config": config}
        return cells
    runs = {}
    for metrics_path in sorted(folder.glob("seed*/metrics.json")):
        metrics = json.loads(metrics_path.read_text())
        config = json.loads((metrics_path.parent / "config.json").read_text())
        config = config.get("config", config)
        runs[int(config["train"]["seed"])] = {"oa": metrics["test"]["oa"],
                                              "n_test": metrics["n_test"], "config": config}
    if not runs:
        raise SystemExit(f"no seed*/metrics.json or runs.json under {folder}")
    return {"": runs}


def _differences(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    # A setting added after the baseline ran counts as its default there.
    defaults = RunConfig().to_dict()
    changed = {}
    for section in ("data", "model", "train"):
        for key, value in other[section].items():
            was = base[section].get(key, defaults[section].get(key))
            if key != "seed" and was != value:
                changed[f"{section}.{key}"] = value
    return changed


def _cell(folder: Path, cell: str | None) -> dict[str, dict[int, dict[str, Any]]]:
    """The cells of ``folder``; with ``cell``, an experiment's one cell named "" (as a run
    folder's), so that it pairs with run folders."""
    cells = _runs(folder)
    if cell is None or "" in cells:
        return cells
    if cell not in cells:
        raise SystemExit(f"{folder} has no cell {cell!r}: {sorted(cells)}")
    return {"": cells[cell]}


def _compare(folder: Path, cell: str, runs: dict[int, dict[str, Any]],
             base: dict[int, dict[str, Any]]) -> dict[str, Any]:
    seeds = sorted(set(runs) & set(base))
    if not seeds:
        raise SystemExit(f"{folder} {cell}: no seed in common with the baseline")
    oa, base_oa = [runs[s]["oa"] for s in seeds], [base[s]["oa"] for s in seeds]
    diff = np.subtract(oa, base_oa)
    return {
        "folder": str(folder), "cell": cell,
        "changes": _differences(base[seeds[0]]["config"], runs[seeds[0]]["config"]),
        "seeds": seeds, "oa": oa, "baseline_oa": base_oa,
        "mean": float(np.mean(oa)), "std": float(np.std(oa, ddof=1)) if len(oa) > 1 else 0.0,
        "mean_difference": float(diff.mean()), "wins": int((diff > 0).sum()),
        "p_value": (float(stats.ttest_rel(oa, base_oa).pvalue)
                    if len(seeds) > 1 and np.ptp(diff) > 0 else None),
        "same_test_pixels": all(runs[s]["n_test"] == base[s]["n_test"] for s in seeds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--candidate", type=Path, nargs="+", required=True)
    parser.add_argument("--cell", default=None,
                        help="only this cell (e.g. fixed/resnet3d-eca_band) of the experiment "
                             "folders, compared with the run folders")
    parser.add_argument("--out", type=Path, required=True, help="result path without suffix")
    args = parser.parse_args()
    baseline = _cell(args.baseline, args.cell)
    rows = []
    for folder in args.candidate:
        for cell, runs in _cell(folder, args.cell).items():
            if cell not in baseline:
                raise SystemExit(f"{folder}: cell {cell!r} is not in the baseline "
                                 f"{args.baseline} (it has {sorted(baseline)})")
            rows.append(_compare(folder, cell, runs, baseline[cell]))
    command = " ".join(["python", *sys.argv])
    lines = [
        f"Produced by `{command}`. Test OA in %, mean ± sample std over seeds; differences "
        "are candidate minus baseline on the same seeds and cell.", "",
        "| candidate | changes | baseline OA | OA | paired diff (points) | wins | p "
        "| same test pixels |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        p = "n/a" if row["p_value"] is None else f"{row['p_value']:.3g}"
        changes = ", ".join(f"{k}={v}" for k, v in row["changes"].items()) or "none"
        name = f"`{row['folder']}`" + (f" `{row['cell']}`" if row["cell"] else "")
        base_oa = np.array(row["baseline_oa"])
        lines.append(
            f"| {name} | {changes} | {100 * base_oa.mean():.2f} ± "
            f"{100 * np.std(base_oa, ddof=1):.2f} | {100 * row['mean']:.2f} ± "
            f"{100 * row['std']:.2f} | {100 * row['mean_difference']:+.2f} "
            f"| {row['wins']}/{len(row['seeds'])} | {p} "
            f"| {'yes' if row['same_test_pixels'] else 'no'} |"
        )
    table = "\n".join(lines) + "\n"
    write_json_atomic(args.out.with_suffix(".json"), {
        "command": command, "hsi_attn": hsi_attn.__version__,
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "baseline": str(args.baseline), "candidates": rows,
    })
    write_text_atomic(args.out.with_suffix(".md"), table)
    print(table)


if __name__ == "__main__":
    main()
