"""Where dense inference spends its time: the default flagship's twin, stage by stage.

Runs the steps of ``DenseTwin.forward`` one by one, exactly as the twin does on a CPU
for a single cube (the two overlapping halves as a batch, each module group of the
spatial stage with its batch norm folded, the window average, the head), and times each
with ``time.perf_counter`` (CPU work is synchronous). Also times the head's matrix
products alone on the same slices, the whole twin and the whole ``predict_scene``. The
medians of ``--repeats`` passes (after warm-up passes) are reported, with each stage's
FLOPs where it has any.

Timings depend on shapes, not values, so the cube is random with the default scene's
shape after the default preprocessing (145 x 145 x 30: Indian Pines, PCA 30).

Run:  python experiments/benchmarks/dense_stages.py [--threads N] [--repeats 25]
Prints one JSON line and writes it to experiments/benchmarks/results/dense_stages.json.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from common import ensure_stable_allocator, matmul_gflops, provenance, write_result
from hsi_attn.config import ModelConfig
from hsi_attn.inference import predict_scene
from hsi_attn.models import create_model, forward_flops
from hsi_attn.models.batch_norm_folding import foldable, run_folded
from hsi_attn.models.dense import box_filter
from hsi_attn.models.reference_form import reference_form
from hsi_attn.models.spectral_matrices import LoweredBlock, in_chunks, lower_block


def module_groups(spatial: nn.Sequential) -> list[tuple[str, nn.Sequential]]:
    """The spatial stage's children, a convolution and the batch norm it folds kept together."""
    children = list(spatial.named_children())
    groups, index = [], 0
    while index < len(children):
        name, module = children[index]
        take = 2 if (
            isinstance(module, nn.Conv3d) and index + 1 < len(children)
            and foldable(children[index + 1][1])
        ) else 1
        part = children[index : index + take]
        # A new Sequential starts in training mode; it must not switch the twin's modules.
        group = nn.Sequential(*(m for _, m in part)).train(spatial.training)
        groups.append(("+".join(f"{n}:{type(m).__name__}" for n, m in part), group))
        index += take
    return groups


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
    twin = model.dense_twin()
    training_before = [module.training for module in model.modules()]
    cube = np.random.default_rng(0).standard_normal((height, width, bands)).astype(np.float32)
    half = p // 2
    padded = np.pad(cube, ((half, half), (half, half), (0, 0)), mode="reflect")
    scene = torch.from_numpy(padded).permute(2, 0, 1)[None, None]

    top = (height + 1) // 2
    rows = top + p - 1
    groups = module_groups(twin.spatial)
    times: dict[str, list[float]] = {}
    flops: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Tensor], record: bool) -> Tensor:
        start = time.perf_counter()
        out = fn()
        if record:
            times.setdefault(name, []).append(time.perf_counter() - start)
        return out

    def products(columns: Tensor) -> Tensor:
        """The head's matrix products alone, on one slice of columns."""
        for block in lowered:
            columns = torch.addmm(block.conv1[1], block.conv1[0], columns)
            columns = torch.addmm(block.conv2[1], block.conv2[0], columns)
        weight, bias = twin.head.classifier.weight, twin.head.classifier.bias
        return torch.addmm(bias[:, None], weight, columns)

    lowered: list[LoweredBlock] = []
    with torch.inference_mode():
        for step in range(args.warmup + args.repeats):
            record = step >= args.warmup
            timed("predict_scene", lambda: torch.from_numpy(
                predict_scene(model, cube, patch_size=p, method="dense")), record)
            timed("twin", lambda: twin(scene), record)
            x = timed("halves", lambda: torch.cat(
                [scene[..., :rows, :], scene[..., scene.shape[3] - rows :, :]]), record)
            for name, group in groups:
                if step == 0:
                    flops[name] = forward_flops(group, x)
                x = timed(name, lambda g=group, v=x: run_folded(g, v), record)
            features = x
            boxed = timed("window average", lambda: box_filter(features, twin.window), record)
            timed("head", lambda: twin.head.positionwise(boxed), record)
            if step == 0:
                with reference_form(), FlopCounterMode(display=False) as counter:
                    twin.head.positionwise(boxed)
                flops["head"] = counter.get_total_flops()
                lowered = [lower_block(block, boxed.shape[2]) for block in twin.head.blocks]
            timed("head: matrix products alone", lambda: [
                in_chunks(products, sample.reshape(-1, sample.shape[2] * sample.shape[3]))
                for sample in boxed
            ], record)
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
        "dense_flops_one_pass": forward_flops(twin, scene.expand(2, -1, -1, -1, -1)) / 2,
        "matmul_gflops": matmul,
        **provenance(torch.device("cpu")),
    }
    write_result(args.result_name, result, write=not args.no_write)


if __name__ == "__main__":
    ensure_stable_allocator()
    main()
