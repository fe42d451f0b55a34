"""Aggregate an experiment's runs into tables: mean ± std per cell, seed-paired tests.

For every protocol and (model, attention) cell: mean and sample standard deviation of
OA, AA and kappa over seeds, the parameter count, and the mean training and full-scene
inference times. Each attention is compared with the baselines ``none`` and ``se3d`` of
the same model by seed-paired OA differences and a paired t-test (scipy), so a claim
that band-preserving attention helps rests on the same seeds and splits.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from hsi_attn.experiment.runner import RunRecord

BASELINES = ("none", "se3d")
METRICS = ("oa", "aa", "kappa")


def _mean_std(values: Sequence[float]) -> dict[str, float | None]:
    array = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if not array.size:
        return {"mean": None, "std": None, "n": 0}
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return {"mean": float(array.mean()), "std": std, "n": int(array.size)}


def _cell_key(record: RunRecord) -> tuple[str, str, str, str]:
    model = record.config["model"]
    return record.config["data"]["scene"], record.protocol, model["name"], model["attention"]


def aggregate(records: Sequence[RunRecord]) -> dict[str, Any]:
    """Summarise runs per (scene, protocol, model, attention) cell.

    Returns:
        ``{"cells": [...], "paired": [...]}``; each cell has ``oa``/``aa``/``kappa``
        as ``{"mean", "std", "n"}``, ``params``, ``fit_seconds``, ``predict_seconds``,
        ``seeds`` and ``best_seed``; each paired entry compares one attention with a
        baseline of the same model on the seeds both have.
    """
    groups: dict[tuple[str, str, str, str], list[RunRecord]] = defaultdict(list)
    for record in records:
        groups[_cell_key(record)].append(record)
    cells = []
    for (scene, protocol, model, attention), runs in groups.items():
        tests = [r.metrics["test"] for r in runs]
        oas = [t["oa"] for t in tests]
        cells.append({
            "scene": scene, "protocol": protocol, "model": model, "attention": attention,
            **{key: _mean_std([t[key] for t in tests]) for key in METRICS},
            "params": runs[0].metrics.get("profile", {}).get("params"),
            "fit_seconds": _mean_std([r.metrics["timing"]["fit_seconds"] for r in runs])["mean"],
            "predict_seconds": _mean_std([r.metrics["timing"]["predict_seconds"] for r in runs])["mean"],
            "seeds": [r.config["train"]["seed"] for r in runs],
            "best_seed": runs[int(np.argmax(oas))].config["train"]["seed"],
            "best_run": str(runs[int(np.argmax(oas))].out_dir),
            "leakage": _mean_std([r.metrics.get("protocol", {}).get("leakage", {})
                                  .get("train->test") for r in runs]),
            "published": runs[0].metrics.get("protocol", {}).get("published", []),
        })
    return {"cells": cells, "paired": _paired(groups)}


def _paired(groups: dict[tuple[str, str, str, str], list[RunRecord]]) -> list[dict[str, Any]]:
    from scipy import stats

    by_seed = {key: {r.config["train"]["seed"]: r.metrics["test"]["oa"] for r in runs} for key, runs in groups.items()}
    paired = []
    for (scene, protocol, model, attention), oas in by_seed.items():
        for baseline in BASELINES:
            base_key = (scene, protocol, model, baseline)
            if baseline == attention or base_key not in by_seed:
                continue
            seeds = sorted(set(oas) & set(by_seed[base_key]))
            diffs = np.array([oas[s] - by_seed[base_key][s] for s in seeds], dtype=np.float64)
            p_value = None
            if diffs.size >= 2 and np.ptp(diffs) > 0:
                p_value = float(stats.ttest_rel([oas[s] for s in seeds], [by_seed[base_key][s] for s in seeds]).pvalue)
            paired.append({
                "scene": scene, "protocol": protocol, "model": model, "attention": attention,
                "baseline": baseline, "seeds": seeds, "differences": diffs.tolist(),
                "mean_difference": float(diffs.mean()) if diffs.size else None,
                "std_difference": float(diffs.std(ddof=1)) if diffs.size > 1 else None,
                "wins": int((diffs > 0).sum()), "p_value": p_value,
            })
    return paired


def _pm(stat: dict[str, Any], scale: float = 100.0) -> str:
    if stat["mean"] is None:
        return "n/a"
    if stat["n"] < 2:
        return f"{stat['mean'] * scale:.2f}"  # one seed: no spread to show
    return f"{stat['mean'] * scale:.2f} ± {stat['std'] * scale:.2f}"


def _protocol_lines(cells: list[dict[str, Any]]) -> list[str]:
    """How much the protocol leaks, and the published figures on it, when recorded."""
    lines = []
    leakage = [c["leakage"]["mean"] for c in cells if c.get("leakage", {}).get("mean") is not None]
    if leakage:
        lines.append(
            f"Leakage: {100 * float(np.mean(leakage)):.1f} % of the test pixels lie inside a "
            "training patch (train->test, mean over runs; 0 % means no test pixel is seen in "
            "training)."
        )
    published = next((c["published"] for c in cells if c.get("published")), [])
    for entry in published:
        lines.append(f"Published on this split: {entry['method']}, {entry['oa']:.2f} % OA "
                     f"({entry['source']}).")
    return lines + [""] if lines else []


def markdown_tables(summary: dict[str, Any], *, command: str, device: str, description: str = "") -> dict[str, str]:
    """One Markdown table per (scene, protocol), keyed ``"scene/protocol"``."""
    tables: dict[str, str] = {}
    keys = sorted({(c["scene"], c["protocol"]) for c in summary["cells"]})
    for scene, protocol in keys:
        lines = [f"# {scene} / {protocol}", ""]
        if description:
            lines += [description, ""]
        lines += _protocol_lines([c for c in summary["cells"]
                                  if (c["scene"], c["protocol"]) == (scene, protocol)])
        lines += [
            f"Produced by `{command}` on {device}. OA, AA in %, kappa x 100; mean ± sample std over seeds.",
            "",
            "| model | attention | seeds | OA | AA | kappa | params | train s | inference s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in summary["cells"]:
            if (c["scene"], c["protocol"]) != (scene, protocol):
                continue
            lines.append(
                f"| {c['model']} | {c['attention']} | {len(c['seeds'])} | {_pm(c['oa'])} | {_pm(c['aa'])} "
                f"| {_pm(c['kappa'])} | {c['params'] if c['params'] is not None else 'n/a'} "
                f"| {c['fit_seconds']:.1f} | {c['predict_seconds']:.2f} |"
            )
        paired = [p for p in summary["paired"] if (p["scene"], p["protocol"]) == (scene, protocol)]
        if paired:
            lines += [
                "", "Seed-paired OA differences (attention minus baseline, percentage points):", "",
                "| model | attention | baseline | mean diff | std | wins | paired t-test p |",
                "|---|---|---|---|---|---|---|",
            ]
            for p in paired:
                mean = f"{p['mean_difference'] * 100:+.2f}" if p["mean_difference"] is not None else "n/a"
                std = f"{p['std_difference'] * 100:.2f}" if p["std_difference"] is not None else "n/a"
                pv = f"{p['p_value']:.3g}" if p["p_value"] is not None else "n/a"
                lines.append(
                    f"| {p['model']} | {p['attention']} | {p['baseline']} | {mean} | {std} "
                    f"| {p['wins']}/{len(p['seeds'])} | {pv} |"
                )
        tables[f"{scene}/{protocol}"] = "\n".join(lines) + "\n"
    return tables
