"""A flight line larger than memory, classified to a GeoTIFF by streaming prediction.

Generates (once, chunk by chunk, never whole in memory) a synthetic flight line of
``--lines`` x 1000 samples x 200 bands, int16, ENVI BIL (20,000 lines: 8 GB) with a UTM
map info, wavelengths 400-2500 nm and slanted no-data swath edges; reuses it when a file
of the right size is already there. Then, in one process:

* builds the default flagship (``ModelConfig()``: family, attention, patch 11) with
  untrained weights (inference cost does not depend on them) and the default
  preprocessing (``DataConfig()``: standardisation + PCA 30) fitted on a sample of the
  line's pixels;
* classifies the whole line to a GeoTIFF class map with
  :func:`hsi_attn.inference.predict_stream` (cube opened with
  :func:`hsi_attn.data.open_cube`) within ``--max-memory``, and reports wall time,
  pixels/s, peak RSS (``resource.getrusage``; ENVI cubes are memory-mapped, so pages of
  the file read count too; the largest anonymous and file-backed RSS after each tile
  are reported apart) and the time split between reading, preprocessing (the
  no-data mask included), network and writing;
* measures in-memory dense prediction (``predict_scene``) on Indian Pines, preprocessed
  as the default run does, with the same model architecture, for the ratio
  ``stream pixels/s / in-memory pixels/s`` (same process, same threads).

Run:  python experiments/benchmarks/stream_flight_line.py [--lines 20000] [--threads N]
Prints one JSON line and writes it to experiments/benchmarks/results/stream_flight_line.json.
A smoke run: ``--lines 200 --no-write``.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import torch

from common import best_time, ensure_stable_allocator, provenance, write_result
from hsi_attn.config import DataConfig, ModelConfig
from hsi_attn.data import RasterCube, cache_dir, load_scene, nodata_mask, open_cube
from hsi_attn.data.preprocess import Preprocessor, fit_preprocessor
from hsi_attn.data.splits import split_random
from hsi_attn.inference import predict_scene, predict_stream
from hsi_attn.inference.writers import GeoTiffClassWriter, MapLayout, open_writers
from hsi_attn.models import create_model

SAMPLES = 1000
BANDS = 200
CHUNK_LINES = 256
MAP_INFO = "{UTM, 1.000, 1.000, 600000.000, 5200000.000, 1.0, 1.0, 32, North, WGS-84, units=Meters}"


def _header(lines: int) -> str:
    wavelengths = np.linspace(400.0, 2500.0, BANDS)
    return "\n".join([
        "ENVI",
        "description = {hsi_attn synthetic flight line (experiments/benchmarks/stream_flight_line.py)}",
        f"samples = {SAMPLES}", f"lines = {lines}", f"bands = {BANDS}", "header offset = 0",
        "file type = ENVI Standard", "data type = 2", "interleave = bil", "byte order = 0",
        "data ignore value = -9999", f"map info = {MAP_INFO}",
        "wavelength units = Nanometers",
        "wavelength = {" + ", ".join(f"{w:.2f}" for w in wavelengths) + "}",
    ]) + "\n"


def _chunk(start: int, lines: int, seed: int) -> np.ndarray:
    """Lines ``start..start+lines`` as ``(lines, bands, samples)`` int16 (BIL order)."""
    rng = np.random.default_rng([seed, start])
    wavelengths = np.linspace(0.0, 1.0, BANDS)
    # Five smooth "materials" mixed by abundances that drift along and across the line.
    centres = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    materials = 2000 + 3000 * np.exp(-((wavelengths[None] - centres[:, None]) / 0.15) ** 2)
    rows = np.arange(start, start + lines)[:, None] / 500.0
    cols = np.arange(SAMPLES)[None, :] / 150.0
    phases = np.arange(5)[:, None, None]
    abundance = np.exp(np.sin(rows[None] + phases) * np.cos(cols[None] * (1 + phases / 3)))
    abundance /= abundance.sum(axis=0, keepdims=True)
    cube = np.einsum("mrc,mb->rbc", abundance, materials)
    cube += rng.normal(0, 40, size=cube.shape)
    data = np.clip(cube, 0, 10000).astype(np.int16)
    # Slanted swath edges without data, as on a real line.
    edge = (40 + 30 * np.sin(np.arange(start, start + lines) / 700.0)).astype(int)
    for i, width in enumerate(edge):
        data[i, :, :width] = -9999
        data[i, :, SAMPLES - width // 2:] = -9999
    return data


def flight_line(folder: Path, lines: int, seed: int = 0) -> tuple[Path, float]:
    """The ENVI flight line of ``lines`` lines in ``folder``, generated if missing.

    Returns:
        The header path and the seconds spent generating (0 when reused).
    """
    folder.mkdir(parents=True, exist_ok=True)
    header, data = folder / f"flight_line_{lines}.hdr", folder / f"flight_line_{lines}.img"
    size = lines * SAMPLES * BANDS * 2
    if header.exists() and data.exists() and data.stat().st_size == size:
        return header, 0.0
    start_time = time.perf_counter()
    partial = data.with_suffix(".img.partial")
    with partial.open("wb") as handle:
        for start in range(0, lines, CHUNK_LINES):
            handle.write(_chunk(start, min(CHUNK_LINES, lines - start), seed).tobytes())
    partial.replace(data)
    header.write_text(_header(lines))
    return header, time.perf_counter() - start_time


class RssSampler:
    """Largest anonymous and file-backed resident memory seen after each tile (Linux).

    ``ru_maxrss`` counts the pages of the memory-mapped cube that were read, which the
    kernel drops at will; ``RssAnon`` is the memory the prediction itself holds.
    """

    def __init__(self) -> None:
        self.peak = {"RssAnon": 0, "RssFile": 0}

    def __call__(self, done: int, total: int) -> None:
        try:
            lines = Path("/proc/self/status").read_text().splitlines()
        except OSError:
            return
        for line in lines:
            key, _, value = line.partition(":")
            if key in self.peak:
                self.peak[key] = max(self.peak[key], int(value.split()[0]) * 1024)


def _fit_on_sample(cube: RasterCube, data: DataConfig, pixels: int, seed: int) -> Preprocessor:
    """The default preprocessing fitted on ``pixels`` random valid pixels of 16 lines."""
    rows = np.linspace(0, cube.shape[0] - 1, min(16, cube.shape[0])).astype(int)
    sample = np.concatenate([cube[r:r + 1] for r in rows])
    valid = np.argwhere(~nodata_mask(sample, -9999.0))
    rng = np.random.default_rng(seed)
    coords = valid[rng.choice(len(valid), size=min(pixels, len(valid)), replace=False)]
    return fit_preprocessor(sample, coords, normalization=data.normalization, pca=data.pca,
                            seed=seed)


def _in_memory_dense(model_config: ModelConfig, data: DataConfig, device: torch.device,
                     repeats: int) -> dict[str, float]:
    scene = load_scene("indian_pines")
    split = split_random(scene.gt, data.train_size, val_size=data.val_size, seed=0)
    prep = fit_preprocessor(scene.cube, split.train, normalization=data.normalization,
                            pca=data.pca, seed=0)
    cube = np.ascontiguousarray(prep.transform(scene.cube), dtype=np.float32)
    model = create_model(model_config.name, n_bands=cube.shape[2], n_classes=int(scene.gt.max()),
                         patch_size=model_config.patch_size, attention=model_config.attention,
                         attention_kwargs=model_config.attention_kwargs()).to(device).eval()
    seconds = best_time(lambda: predict_scene(model, cube, patch_size=model_config.patch_size,
                                              method="dense", device=device),
                        repeats=repeats, device=device)
    pixels = cube.shape[0] * cube.shape[1]
    return {"seconds": seconds, "pixels": pixels, "pixels_per_s": pixels / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000, help="flight line length")
    parser.add_argument("--folder", type=Path, default=None,
                        help="where the flight line and the map go (default: the hsi_attn "
                             "cache folder, benchmarks/)")
    parser.add_argument("--max-memory", type=int, default=512 << 20, help="bytes")
    parser.add_argument("--classes", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed repeats of the in-memory Indian Pines map (best is kept)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--result-name", default="stream_flight_line", help="results/<name>.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    folder = args.folder or cache_dir() / "benchmarks"
    header, generate_s = flight_line(folder, args.lines)
    model_config, data = ModelConfig(), DataConfig()
    out = folder / f"flight_line_{args.lines}_map.tif"
    with open_cube(header) as cube:
        prep = _fit_on_sample(cube, data, 5000, seed=0)
        model = create_model(
            model_config.name, n_bands=prep.n_bands_out, n_classes=args.classes,
            patch_size=model_config.patch_size, attention=model_config.attention,
            attention_kwargs=model_config.attention_kwargs(),
        ).to(device).eval()
        layout = MapLayout(cube.shape[0], cube.shape[1], tuple(range(1, args.classes + 1)),
                           tuple(f"class {k}" for k in range(1, args.classes + 1)), cube.georef)
        writers = [GeoTiffClassWriter(out, layout)]
        sampler = RssSampler()
        start = time.perf_counter()
        with open_writers(writers):
            stats = predict_stream(cube, model, prep, patch_size=model_config.patch_size,
                                   writers=writers, pad_mode=data.pad_mode,
                                   max_memory=args.max_memory, device=device,
                                   progress=sampler)
        wall = time.perf_counter() - start
        shape = list(cube.shape)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    pixels = shape[0] * shape[1]
    in_memory = _in_memory_dense(model_config, data, device, args.repeats)
    stream_rate = pixels / wall
    result = {
        "benchmark": "stream_flight_line",
        "shape": shape,
        "dtype": "int16",
        "interleave": "bil",
        "cube_bytes": shape[0] * shape[1] * shape[2] * 2,
        "generate_s": generate_s,
        "model": {"name": model_config.name, "attention": model_config.attention,
                  "patch_size": model_config.patch_size, "pca": data.pca,
                  "classes": args.classes},
        "max_memory": args.max_memory,
        "tiles": stats.tiles,
        "tile_shape": list(stats.tile_shape),
        "nodata_pixels": stats.nodata_pixels,
        "wall_s": wall,
        "pixels_per_s": stream_rate,
        "network_pixels_per_s": pixels / max(stats.seconds["network"], 1e-12),
        "seconds": stats.seconds,
        "fraction": {k: v / max(stats.total_seconds, 1e-12) for k, v in stats.seconds.items()},
        "peak_rss_bytes": peak_rss,
        "peak_rss_anon_bytes_after_a_tile": sampler.peak["RssAnon"],
        "peak_rss_file_bytes_after_a_tile": sampler.peak["RssFile"],
        "map_bytes": out.stat().st_size,
        "in_memory_dense_indian_pines": in_memory,
        "stream_over_in_memory_pixels_per_s": stream_rate / in_memory["pixels_per_s"],
        **provenance(device),
    }
    write_result(args.result_name, result, write=not args.no_write)


if __name__ == "__main__":
    ensure_stable_allocator()
    main()
