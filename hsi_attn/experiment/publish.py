"""Write an experiment's results folder: tables, every run's JSON, best-seed maps.

Layout of ``OUT``::

    OUT/summary.json            aggregate + paired comparisons + command/version/device
    OUT/runs.json               config and metrics of every run
    OUT/<scene>_<protocol>.md   one Markdown table per protocol, with the command
    OUT/maps/<scene>_<protocol>_<model>-<attention>.png   map of the best seed
    OUT/runs/...                the run directories themselves (checkpoints included)
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from hsi_attn import __version__
from hsi_attn.engine.atomic import write_json_atomic, write_text_atomic
from hsi_attn.engine.device import describe_device
from hsi_attn.experiment.report import aggregate, markdown_tables
from hsi_attn.experiment.runner import RunRecord, run_experiment
from hsi_attn.experiment.spec import ExperimentSpec

logger = logging.getLogger(__name__)


def publish(records: list[RunRecord], spec: ExperimentSpec, out_dir: str | Path, *, command: str) -> dict[str, Any]:
    """Aggregate ``records`` and write the results folder; returns the summary."""
    out = Path(out_dir)
    devices = sorted({str(r.metrics.get("device", "unknown")) for r in records})
    device = "; ".join(describe_device(name) for name in devices)
    summary = {
        "experiment": spec.name, "command": command, "hsi_attn_version": __version__,
        "torch_version": torch.__version__, "device": device, **aggregate(records),
    }
    write_json_atomic(out / "summary.json", summary)
    write_json_atomic(out / "runs.json", [
        {"run_id": r.run_id, "protocol": r.protocol, "config": r.config, "metrics": r.metrics}
        for r in records
    ])
    for key, text in markdown_tables(summary, command=command, device=device, description=spec.description).items():
        write_text_atomic(out / f"{key.replace('/', '_')}.md", text)
    maps = out / "maps"
    for cell in summary["cells"]:
        source = Path(cell["best_run"]) / "map.png"
        if source.is_file():
            maps.mkdir(parents=True, exist_ok=True)
            target = maps / f"{cell['scene']}_{cell['protocol']}_{cell['model']}-{cell['attention']}.png"
            temporary = target.with_suffix(".png.tmp")
            shutil.copyfile(source, temporary)
            temporary.replace(target)
    logger.info("experiment %s: %d runs summarised in %s", spec.name, len(records), out)
    return summary


def run_and_publish(spec: ExperimentSpec, out_dir: str | Path, *, quick: bool = False, command: str = "") -> dict[str, Any]:
    """Run (or resume) the experiment, then write its results folder."""
    records = run_experiment(spec, out_dir, quick=quick, command=command)
    return publish(records, spec, out_dir, command=command)
