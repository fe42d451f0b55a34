"""Full Indian Pines map with the default flagship: per-patch vs dense inference.

Measured in one process, on the same model and cube:

* wall time and pixels/s of ``predict_scene(method="patch")`` and ``method="dense"``,
  and the speed-up;
* the redundancy factor: per-patch forward FLOPs / dense forward FLOPs per pixel
  (counted on the whole scene, halo included) -- the most work dense can remove;
* dense GFLOP/s against a large float32 matrix multiply measured in the same process,
  and how far dense is above its physical floor (its FLOPs at the matmul rate). Dense
  FLOPs are the model's arithmetic for one pass over the padded scene (counted on the
  reference twin): the extra rows the fused twin computes when it splits a cube into
  two overlapping halves are reported separately (``dense_executed_*``) and not
  credited;
* a naive loop of single-patch forward passes on a pixel subsample, per pixel, to show
  the batched patch method is at least that fast;
* the largest difference between the two probability maps.

The model is the untrained default (``ModelConfig()``: flagship, attention, patch size)
in eval mode (inference cost does not depend on the weights), on the scene preprocessed
as the default training run does (``DataConfig()``: standardisation and PCA fitted on
the training pixels of the default split; ``--pca 0`` keeps every band). The redundancy
factor of every dense-capable family at its default and paper patch sizes is reported
too.

Run:  python experiments/benchmarks/inference.py [--threads N] [--device cpu]
Prints one JSON line and writes it to experiments/benchmarks/results/inference.json.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from common import best_time, ensure_stable_allocator, matmul_gflops, provenance, write_result
from hsi_attn.config import DataConfig, ModelConfig, TrainConfig
from hsi_attn.data import load_scene
from hsi_attn.data.patches import PatchSampler
from hsi_attn.data.preprocess import fit_preprocessor
from hsi_attn.data.splits import split_random
from hsi_attn.inference import predict_scene
from hsi_attn.models import (
    DenseCapable,
    create_model,
    dense_profile,
    forward_flops,
    list_models,
    profile,
)
from hsi_attn.models.dense.cpu_choices import two_halves


def redundancy_factors(bands: int, n_classes: int, height: int, width: int,
                       patch_sizes: tuple[int, ...]) -> dict[str, dict[int, float]]:
    """Per-patch FLOPs / dense FLOPs per pixel on the whole scene, per dense-capable family."""
    factors: dict[str, dict[int, float]] = {}
    for name in list_models():
        for p in patch_sizes:
            try:
                model = create_model(name, n_bands=bands, n_classes=n_classes, patch_size=p)
            except ValueError:
                continue
            if isinstance(model, DenseCapable):
                factors.setdefault(name, {})[p] = dense_profile(
                    model, height=height, width=width
                )["redundancy_factor"]
    return factors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="indian_pines")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed repeats of each method, after a warm-up (best is kept)")
    parser.add_argument("--naive-pixels", type=int, default=200)
    parser.add_argument("--patch-size", type=int, default=None, help="default: ModelConfig's")
    parser.add_argument("--pca", type=int, default=None, help="default: DataConfig's; 0 = all bands")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--result-name", default="inference", help="results/<name>.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)

    scene = load_scene(args.scene)
    data_cfg = DataConfig()
    pca = data_cfg.pca if args.pca is None else (args.pca or None)
    split = split_random(scene.gt, data_cfg.train_size, val_size=data_cfg.val_size, seed=0)
    prep = fit_preprocessor(scene.cube, split.train, normalization=data_cfg.normalization,
                            pca=pca, seed=0)
    cube = np.ascontiguousarray(prep.transform(scene.cube), dtype=np.float32)
    height, width, bands = cube.shape
    pixels = height * width
    config = ModelConfig()
    p = args.patch_size or config.patch_size
    model = create_model(
        config.name, n_bands=bands, n_classes=int(scene.gt.max()), patch_size=p,
        attention=config.attention, attention_kwargs=config.attention_kwargs(),
    ).to(device).eval()
    batch_size = TrainConfig().eval_batch_size

    per_patch = profile(model, (1, 1, bands, p, p))["flops_per_patch"]
    half = p // 2
    padded = np.pad(cube, ((half, half), (half, half), (0, 0)), mode="reflect")
    scene_tensor = torch.from_numpy(np.ascontiguousarray(padded.transpose(2, 0, 1)))[None, None]
    # Dense FLOPs: the reference twin's pass over the padded scene (dense_profile). On a
    # CPU the fused twin runs a single cube as two overlapping halves (a faster
    # convolution kernel); that overlap is extra work, reported as "executed" and not
    # credited.
    dense_flops = dense_profile(model, height=height, width=width)["flops_per_pixel"] * pixels
    executed = two_halves(scene_tensor, p) if device.type == "cpu" else scene_tensor
    executed_flops = forward_flops(model.dense_twin(), executed.to(device))
    redundancy = per_patch * pixels / dense_flops

    matmul = matmul_gflops(device)
    results: dict[str, np.ndarray] = {}

    def run(method: str) -> None:
        results[method] = predict_scene(model, cube, patch_size=p, method=method,
                                        batch_size=batch_size, device=device)

    dense_s = best_time(lambda: run("dense"), repeats=args.repeats, device=device)
    patch_s = best_time(lambda: run("patch"), repeats=args.repeats, device=device)
    matmul_after = matmul_gflops(device)

    # Naive: one forward pass per pixel, on a subsample.
    sampler = PatchSampler(cube, p, device=device)
    rng = np.random.default_rng(0)
    flat = rng.choice(pixels, size=min(args.naive_pixels, pixels), replace=False)
    coords = np.stack(np.divmod(flat, width), axis=1).astype(np.int64)
    with torch.inference_mode():
        model(sampler.gather(coords[:1]))
        start = time.perf_counter()
        for row in coords:
            torch.softmax(model(sampler.gather(row[None])), dim=1).cpu()
        naive_s = (time.perf_counter() - start) / len(coords)

    dense_gflops = dense_flops / dense_s / 1e9
    matmul_rate = max(matmul, matmul_after)
    floor_s = dense_flops / (matmul_rate * 1e9)
    result = {
        "benchmark": "inference",
        "scene": args.scene,
        "shape": [height, width, bands],
        "model": {"name": config.name, "attention": config.attention, "patch_size": p,
                  "params": sum(t.numel() for t in model.parameters())},
        "batch_size": batch_size,
        "patch_s": patch_s,
        "dense_s": dense_s,
        "patch_pixels_per_s": pixels / patch_s,
        "dense_pixels_per_s": pixels / dense_s,
        "naive_pixels_per_s": 1 / naive_s,
        "naive_pixels_sampled": len(coords),
        "speedup_dense_vs_patch": patch_s / dense_s,
        "speedup_patch_vs_naive": (pixels / patch_s) * naive_s,
        "flops_per_patch": per_patch,
        "dense_flops_per_pixel": dense_flops / pixels,
        "dense_executed_flops_per_pixel": executed_flops / pixels,
        "redundancy_factor": redundancy,
        "speedup_over_redundancy": (patch_s / dense_s) / redundancy,
        "matmul_gflops": matmul_rate,
        "matmul_gflops_before_after": [matmul, matmul_after],
        "dense_gflops": dense_gflops,
        "dense_executed_gflops": executed_flops / dense_s / 1e9,
        "dense_fraction_of_matmul": dense_gflops / matmul_rate,
        "patch_gflops": per_patch * pixels / patch_s / 1e9,
        "dense_floor_s": floor_s,
        "dense_over_floor": dense_s / floor_s,
        "max_abs_diff_dense_vs_patch": float(np.abs(results["dense"] - results["patch"]).max()),
        "pca": pca,
        "redundancy_factors": redundancy_factors(bands, int(scene.gt.max()), height, width,
                                                 tuple(sorted({5, 9, p}))),
        **provenance(device),
    }
    write_result(args.result_name, result, write=not args.no_write)


if __name__ == "__main__":
    ensure_stable_allocator()
    main()
