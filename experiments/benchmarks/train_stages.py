"""Where a training step spends its time, stage by stage, at the default configuration.

One optimiser step of :func:`hsi_attn.engine.fit` taken apart, with the run's own pieces:
the data prepared as ``hsi-attn train`` prepares it (``DataConfig()``: Indian Pines,
10 % random, PCA 30), the run's training source (``PatchSource.from_cube``: seeded
order, patches gathered from the padded cube, dihedral augmentation), the default model
(``ModelConfig()``) and the default optimisation (``TrainConfig()``: batch size,
optimiser, schedule, clipping, precision). Each step is timed in stages, the device
synchronised between them:

* ``data``: the next batch from the source (gather + augmentation) moved to the device;
* ``zero_grad``; ``forward`` (under the precision's autocast); ``loss`` (cross-entropy);
* ``backward`` (through the gradient scaler for fp16);
* ``clip`` (``grad_clip``) and ``step`` (optimiser step and the per-step schedule).

The medians of ``--steps`` steps (after ``--warmup`` steps) are reported, with each
stage's share of the summed medians and the training samples/s that sum implies. The
epoch restarts when the source runs out, as in training. ``--synthetic`` uses a random
scene of Indian Pines' shape instead (145 x 145 x 200, 16 classes; timings depend on
shapes, not values), for machines without the data.

Run:  python experiments/benchmarks/train_stages.py [--threads N] [--steps 50]
Prints one JSON line and writes it to experiments/benchmarks/results/train_stages.json.
Smoke run: python experiments/benchmarks/train_stages.py --synthetic --steps 2 --warmup 1
--batch-size 8 --no-write
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from common import ensure_stable_allocator, provenance, synchronize, write_result
from hsi_attn.config import RunConfig, TrainConfig
from hsi_attn.data import Scene
from hsi_attn.engine.optimization import build_optimizer, build_scheduler
from hsi_attn.engine.precision import resolve_precision
from hsi_attn.run.model import build_model
from hsi_attn.run.prepare import load_run_scene, prepare_data, training_sources

STAGES = ("data", "zero_grad", "forward", "loss", "backward", "clip", "step")


def synthetic_scene(seed: int = 0) -> Scene:
    """A random scene with Indian Pines' shape: 145 x 145 x 200, about half labelled."""
    rng = np.random.default_rng(seed)
    cube = rng.normal(size=(145, 145, 200)).astype(np.float32)
    gt = rng.integers(1, 17, size=(145, 145)) * (rng.random((145, 145)) < 0.5)
    return Scene.from_arrays(cube, gt.astype(np.int64), name="synthetic")


def endless(source: object, generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:
    """The source's batches, epoch after epoch, as training draws them."""
    while True:
        yield from source.batches(generator)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--steps", type=int, default=50, help="timed steps (median kept)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="override TrainConfig().batch_size (smoke runs only)")
    parser.add_argument("--synthetic", action="store_true",
                        help="a random scene of Indian Pines' shape instead of the data")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--result-name", default="train_stages", help="results/<name>.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    train = dataclasses.replace(TrainConfig(), device=str(device),
                                batch_size=args.batch_size or TrainConfig().batch_size)
    config = RunConfig(train=train)

    torch.manual_seed(train.seed)
    scene = synthetic_scene() if args.synthetic else load_run_scene(config, None, None, False)
    prepared = prepare_data(config, scene, device=device)
    source, _ = training_sources(config, prepared, device)
    torch.manual_seed(train.seed)
    model = build_model(config, prepared.n_bands, prepared.n_classes).to(device)
    model.train()
    precision = resolve_precision(train.precision, device)
    scaler = precision.make_scaler()
    optimizer = build_optimizer(model, train)
    scheduler = build_scheduler(optimizer, train, len(source))
    criterion = nn.CrossEntropyLoss(label_smoothing=train.label_smoothing)
    batches = endless(source, torch.Generator().manual_seed(train.seed))

    def step() -> list[float]:
        marks = [time.perf_counter()]

        def mark() -> None:
            synchronize(device)
            marks.append(time.perf_counter())

        x, y = next(batches)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        mark()
        optimizer.zero_grad(set_to_none=True)
        mark()
        with precision.autocast():
            logits = model(x)
        mark()
        loss = criterion(logits.float(), y)
        mark()
        (scaler.scale(loss) if scaler is not None else loss).backward()
        mark()
        if scaler is not None:
            scaler.unscale_(optimizer)
        if train.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip)
        mark()
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        mark()
        return [b - a for a, b in zip(marks, marks[1:])]

    for _ in range(args.warmup):
        step()
    timed = np.array([step() for _ in range(args.steps)])
    medians = {stage: float(np.median(timed[:, i])) for i, stage in enumerate(STAGES)}
    total = sum(medians.values())
    result = {
        "benchmark": "train_stages",
        "scene": "synthetic" if args.synthetic else config.data.scene,
        "model": {"name": config.model.name, "attention": config.model.attention,
                  "patch_size": config.model.patch_size, "n_bands": prepared.n_bands},
        "batch_size": train.batch_size,
        "precision": precision.name,
        "augment": train.augment,
        "steps": args.steps,
        "warmup": args.warmup,
        "stage_seconds_median": medians,
        "stage_share": {stage: seconds / total for stage, seconds in medians.items()},
        "step_seconds_median_sum": total,
        "step_seconds_median": float(np.median(timed.sum(axis=1))),
        "train_samples_per_s": train.batch_size / total,
        **provenance(device),
    }
    write_result(args.result_name, result, write=not args.no_write)


if __name__ == "__main__":
    ensure_stable_allocator()
    main()
