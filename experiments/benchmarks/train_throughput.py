"""Training throughput of the default configuration, against the machine's matmul rate.

Trains the default model (``ModelConfig()``) with the default optimisation settings
(``TrainConfig()``: batch size, optimiser, schedule, clipping, precision) on the default
data (``DataConfig()``: Indian Pines, 10 % random training, standardised) for a few
epochs through the project's own loop (:func:`hsi_attn.engine.fit` fed by the run's
patch source), and reports:

* training samples/s (epochs after the first, which warms up the allocator and oneDNN);
* the FLOPs of one training sample, counted on a real forward + backward pass
  (``FlopCounterMode``: convolutions and matrix products, FLOPs = 2 x MACs), and the
  achieved GFLOP/s;
* that rate as a fraction of a large float32 matrix multiply measured in the same
  process, before and after training.

Run:  python experiments/benchmarks/train_throughput.py [--epochs 3] [--threads N]
Prints one JSON line and writes it to experiments/benchmarks/results/train_throughput.json.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from common import ensure_stable_allocator, matmul_gflops, provenance, write_result
from hsi_attn.config import DataConfig, ModelConfig, TrainConfig
from hsi_attn.data import load_scene
from hsi_attn.data.patches import PatchSampler
from hsi_attn.data.preprocess import fit_preprocessor
from hsi_attn.data.splits import split_random
from hsi_attn.engine import fit
from hsi_attn.models import create_model, profile
from hsi_attn.data.batches import PatchSource


def training_flops_per_sample(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """FLOPs of one forward + backward pass, per sample (weights left untouched)."""
    model.train()
    with FlopCounterMode(display=False) as counter:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="first one is warm-up")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--result-name", default="train_throughput", help="results/<name>.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data_cfg, model_cfg = DataConfig(), ModelConfig()
    train_cfg = dataclasses.replace(TrainConfig(), epochs=max(2, args.epochs), device=str(device))

    scene = load_scene(data_cfg.scene)
    split = split_random(scene.gt, data_cfg.train_size, val_size=data_cfg.val_size,
                         seed=train_cfg.seed)
    prep = fit_preprocessor(scene.cube, split.train, normalization=data_cfg.normalization,
                            pca=data_cfg.pca, seed=train_cfg.seed)
    cube = np.ascontiguousarray(prep.transform(scene.cube), dtype=np.float32)
    p = model_cfg.patch_size
    sampler = PatchSampler(cube, p, pad_mode=data_cfg.pad_mode, device=device)
    labels = scene.gt[split.train[:, 0], split.train[:, 1]].astype(np.int64) - 1
    source = PatchSource.from_cube(sampler, split.train, labels, batch_size=train_cfg.batch_size,
                                   shuffle=True, drop_last=True, augment=train_cfg.augment)
    torch.manual_seed(train_cfg.seed)
    model = create_model(
        model_cfg.name, n_bands=cube.shape[2], n_classes=int(scene.gt.max()), patch_size=p,
        attention=model_cfg.attention, attention_kwargs=model_cfg.attention_kwargs(),
    ).to(device)

    x, y = next(source.batches(torch.Generator().manual_seed(1)))
    flops_per_sample = training_flops_per_sample(model, x.to(device), y.to(device))
    forward_flops = profile(model, (1, 1, cube.shape[2], p, p))["flops_per_patch"]

    matmul_before = matmul_gflops(device)
    history = fit(model, source, config=train_cfg, device=device)
    matmul_after = matmul_gflops(device)

    samples_per_epoch = len(source) * train_cfg.batch_size
    timed = [record["train_seconds"] for record in history[1:]]
    seconds = float(np.median(timed))
    samples_per_s = samples_per_epoch / seconds
    achieved = samples_per_s * flops_per_sample / 1e9
    matmul = max(matmul_before, matmul_after)
    result = {
        "benchmark": "train_throughput",
        "scene": data_cfg.scene,
        "model": {"name": model_cfg.name, "attention": model_cfg.attention, "patch_size": p,
                  "n_bands": cube.shape[2]},
        "batch_size": train_cfg.batch_size,
        "precision": train_cfg.precision,
        "samples_per_epoch": samples_per_epoch,
        "epoch_seconds": timed,
        "train_samples_per_s": samples_per_s,
        "train_flops_per_sample": flops_per_sample,
        "forward_flops_per_sample": forward_flops,
        "achieved_gflops": achieved,
        "matmul_gflops": matmul,
        "matmul_gflops_before_after": [matmul_before, matmul_after],
        "fraction_of_matmul": achieved / matmul,
        **provenance(device),
    }
    write_result(args.result_name, result, write=not args.no_write)


if __name__ == "__main__":
    ensure_stable_allocator()
    main()
