"""Where dense inference spends its time, and what each part of the fused twin saves.

The default flagship's fused twin (``model.fused_twin()``), stage by stage, exactly as
it runs on a CPU for a single cube: the two overlapping halves as a batch, each module
of the batch-norm-folded spatial stage, the window average (box filter), the head
(matrix products); also the head's matrix products alone, the whole twin and the whole
``predict_scene``. Each with its FLOPs where it has any (counted on the reference
twin's form of that stage).

Then every part of the fused twin against what it replaces, timed in alternation in
the same passes (the figures behind :mod:`hsi_attn.models.dense.cpu_choices`):

* the whole twin on the cube as one batch of 1 (no halves);
* the spatial stage with its batch norms unfolded (the patch model's modules);
* the window average as ``avg_pool3d`` (the reference twin's), and as the separable
  box filter (two 1-D passes);
* the head as convolutions on 4 x 4 packed positions, and on 1 x 1 positions (the
  reference twin's);
* the matrix head on all positions at once (no slices);
* the patch model's forward on a batch of 512 patches, plain and batch-norm-folded
  (the patch method's work).

The medians of ``--repeats`` passes (after warm-up passes) are reported. Timings depend
on shapes, not values, so the cube is random with the default scene's shape after the
default preprocessing (145 x 145 x 30: Indian Pines, PCA 30).

Run:  python experiments/benchmarks/dense_stages.py [--threads N] [--repeats 25]
Prints one JSON line and writes it to experiments/benchmarks/results/dense_stages.json.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from common import ensure_stable_allocator, matmul_gflops, provenance, write_result
from hsi_attn.config import ModelConfig, TrainConfig
from hsi_attn.inference import predict_scene
from hsi_attn.models import DenseTwin, create_model, fold_batch_norm, forward_flops
from hsi_attn.models.dense.cpu_choices import in_chunks, two_halves
from hsi_attn.models.dense.positionwise import PackedPositions
from hsi_attn.models.dense.spectral_matrices import MatrixHead


def separable_box_filter(x: Tensor, r: int) -> Tensor:
    """The window average as two 1-D passes (a mean over r rows, then over r columns)."""
    n, c, d, h, w = x.shape
    rows = torch.full((c * d, 1, r, 1), 1.0 / r, dtype=x.dtype, device=x.device)
    planes = F.conv2d(x.reshape(n, c * d, h, w), rows, groups=c * d)
    planes = F.conv2d(planes, rows.reshape(c * d, 1, 1, r), groups=c * d)
    return planes.reshape(n, c, d, h - r + 1, w - r + 1)


def spatial_steps(spatial: nn.Sequential) -> list[tuple[str, nn.Module]]:
    """The folded spatial stage's children, each folded batch norm (an Identity) dropped."""
    return [
        (f"{name}:{type(module).__name__}", module)
        for name, module in spatial.named_children() if not isinstance(module, nn.Identity)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--repeats", type=int, default=25, help="timed passes (median kept)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--result-name", default="dense_stages", help="results/<name>.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = ModelConfig()
    height, width, bands, p = 145, 145, 30, config.patch_size
    model = create_model(
        config.name, n_bands=bands, n_classes=16, patch_size=p,
        attention=config.attention, attention_kwargs=config.attention_kwargs(),
    ).eval()
    twin, reference = model.fused_twin(), model.dense_twin()
    if not isinstance(twin.spatial, nn.Sequential) or not isinstance(twin.head, MatrixHead):
        raise RuntimeError("the default flagship's fused twin is not laid out as this script expects")
    one_batch = DenseTwin(twin.spatial, twin.window_average, twin.head, net=model, halves=False)
    packed = PackedPositions(model.head)
    folded_model = fold_batch_norm(model)
    training_before = [module.training for module in model.modules()]
    cube = np.random.default_rng(0).standard_normal((height, width, bands)).astype(np.float32)
    half = p // 2
    padded = np.pad(cube, ((half, half), (half, half), (0, 0)), mode="reflect")
    scene = torch.from_numpy(padded).permute(2, 0, 1)[None, None]
    patches = torch.randn(TrainConfig().eval_batch_size, 1, bands, p, p)
    steps = spatial_steps(twin.spatial)
    times: dict[str, list[float]] = {}
    flops: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Tensor], record: bool) -> Tensor:
        start = time.perf_counter()
        out = fn()
        if record:
            times.setdefault(name, []).append(time.perf_counter() - start)
        return out

    def products(columns: Tensor) -> Tensor:
        """The matrix head's products alone, on one slice of columns."""
        for block in twin.head.lowered:
            columns = torch.addmm(block.conv1[1], block.conv1[0], columns)
            columns = torch.addmm(block.conv2[1], block.conv2[0], columns)
        weight, bias = model.head.classifier.weight, model.head.classifier.bias
        return torch.addmm(bias[:, None], weight, columns)

    def unsliced(x: Tensor) -> Tensor:
        """The matrix head on all positions of each sample at once."""
        n, c, d, h, w = x.shape
        return torch.stack([twin.head._columns(s.reshape(c * d, h * w)) for s in x]).reshape(n, -1, h, w)

    with torch.inference_mode():
        for step in range(args.warmup + args.repeats):
            record = step >= args.warmup
            timed("predict_scene", lambda: torch.from_numpy(
                predict_scene(model, cube, patch_size=p, method="dense")), record)
            timed("twin", lambda: twin(scene), record)
            x = halves = timed("halves", lambda: two_halves(scene, p), record)
            for name, module in steps:
                if step == 0:
                    flops[name] = forward_flops(module, x)
                x = timed(name, lambda m=module, v=x: m(v), record)
            features = x
            boxed = timed("window average", lambda: twin.window_average(features), record)
            timed("head", lambda: twin.head(boxed), record)
            if step == 0:
                flops["head"] = forward_flops(reference.head, boxed)
            timed("head: matrix products alone", lambda: [
                in_chunks(products, s.reshape(-1, s.shape[2] * s.shape[3])) for s in boxed
            ], record)
            # What each part saves: the alternative it replaces, in the same passes.
            timed("alt: twin on one cube (no halves)", lambda: one_batch(scene), record)
            timed("alt: spatial stage folded", lambda: twin.spatial(halves), record)
            timed("alt: spatial stage unfolded", lambda: reference.spatial(halves), record)
            timed("alt: window average as avg_pool3d", lambda: reference.window_average(features), record)
            timed("alt: window average separable", lambda: separable_box_filter(features, model.window), record)
            timed("alt: head on 4x4 packed positions", lambda: packed(boxed), record)
            timed("alt: head on 1x1 positions", lambda: reference.head(boxed), record)
            timed("alt: matrix head unsliced", lambda: unsliced(boxed), record)
            timed("alt: patch forward, 512 patches, plain", lambda: model(patches), record)
            timed("alt: patch forward, 512 patches, folded", lambda: folded_model(patches), record)
    if [module.training for module in model.modules()] != training_before:
        raise RuntimeError("a module changed training mode during the measurement")
    matmul = matmul_gflops(torch.device("cpu"))
    stages = {name: 1e3 * float(np.median(values)) for name, values in times.items()}
    result = {
        "benchmark": "dense_stages",
        "model": {"name": config.name, "attention": config.attention, "patch_size": p},
        "shape": [height, width, bands],
        "repeats": args.repeats,
        "median_ms": stages,
        "stage_order": list(times),
        "stage_flops": flops,
        "stage_gflops_per_s": {name: flops[name] / stages[name] / 1e6 for name in flops if flops[name]},
        "dense_flops_one_pass": forward_flops(reference, scene),
        "matmul_gflops": matmul,
        **provenance(torch.device("cpu")),
    }
    write_result(args.result_name, result, write=not args.no_write)


if __name__ == "__main__":
    ensure_stable_allocator()
    main()
