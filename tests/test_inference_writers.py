"""Map writers on their own: code types and nodata, quantised probabilities, atomic files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hsi_attn.data.georeference import Georeference
from hsi_attn.inference.writers import (
    CLASS_MAP_WRITERS,
    MAX_SIDE,
    EnviClassWriter,
    GeoTiffClassWriter,
    MapLayout,
    NpyClassWriter,
    PredictedTile,
    QuicklookWriter,
    class_map_writers,
    quantize_probabilities,
)

# Layouts without a georeference are plain pixel grids, which rasterio warns about on reading.
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def tiles(layout: MapLayout, rows: int, cols: int, seed: int = 0) -> list[PredictedTile]:
    """Random probabilities over the whole map in ``rows x cols`` tiles, a nodata corner."""
    rng = np.random.default_rng(seed)
    out = []
    for top in range(0, layout.height, rows):
        for left in range(0, layout.width, cols):
            h, w = min(rows, layout.height - top), min(cols, layout.width - left)
            logits = rng.normal(size=(h, w, layout.n_classes))
            probs = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
            valid = np.ones((h, w), dtype=bool)
            if top == 0 and left == 0:
                valid[0, 0] = False
            out.append(PredictedTile(top, left, probs.astype(np.float32), valid))
    return out


def full_codes(layout: MapLayout, parts: list[PredictedTile]) -> np.ndarray:
    out = np.zeros((layout.height, layout.width), dtype=np.int64)
    for tile in parts:
        out[tile.top:tile.top + tile.height, tile.left:tile.left + tile.width] = (
            layout.codes_of(tile))
    return out


@pytest.mark.parametrize(("codes", "nodata", "dtype"), [
    ((1, 2, 3), 0, np.uint8),
    ((0, 5, 9), 10, np.uint8),
    ((3, 255), 0, np.uint8),
    ((0, 255), 256, np.uint16),
    ((1, 70_000), 0, np.uint32),
])
def test_codes_choose_nodata_and_the_smallest_type(codes: tuple[int, ...], nodata: int,
                                                   dtype: type) -> None:
    layout = MapLayout(4, 5, codes, [f"c{c}" for c in codes])
    assert layout.nodata_code == nodata and layout.code_dtype == np.dtype(dtype)


@pytest.mark.parametrize(("codes", "names", "match"), [
    ((1, 2), ("a",), "2 class codes for 1 class names"),
    ((1, 1), ("a", "b"), "distinct non-negative"),
    ((-1, 2), ("a", "b"), "distinct non-negative"),
])
def test_bad_class_tables_are_explained(codes: tuple[int, ...], names: tuple[str, ...],
                                        match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MapLayout(2, 2, codes, names)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 30)),
              elements=st.floats(0.0, 1.0)))
def test_quantised_probabilities_sum_to_255_and_stay_within_one_level(raw: np.ndarray) -> None:
    weights = raw + 1e-6
    probs = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    levels = quantize_probabilities(probs)
    assert levels.dtype == np.uint8
    assert (levels.astype(int).sum(axis=1) == 255).all()
    assert (np.abs(levels - probs.astype(np.float64) * 255) < 1 + 1e-4).all()


@pytest.mark.parametrize("codes", [(1, 2, 3), (0, 300, 7)])
def test_geotiff_written_in_tiles_equals_the_codes(tmp_path: Path, codes: tuple[int, ...]
                                                   ) -> None:
    layout = MapLayout(37, 300, codes, ["a", "b, c", "d"],
                       Georeference(crs_wkt=rasterio.crs.CRS.from_epsg(32633).to_wkt(),
                                    transform=(30.0, 0.0, 600000.0, 0.0, -30.0, 5e6)))
    parts = tiles(layout, 7, 120)
    with GeoTiffClassWriter(tmp_path / "m.tif", layout) as writer:
        for tile in parts:
            writer.write(tile)
    with rasterio.open(tmp_path / "m.tif") as out:
        np.testing.assert_array_equal(out.read(1), full_codes(layout, parts))
        assert out.crs.to_epsg() == 32633 and out.transform.c == 600000.0
        assert out.nodata == layout.nodata_code and out.colormap(1)[codes[1]][3] == 255


def test_envi_and_npy_maps_written_in_tiles(tmp_path: Path) -> None:
    import spectral

    layout = MapLayout(20, 9, (4, 8), ("x", "y"))
    parts = tiles(layout, 3, 4)
    for writer in (EnviClassWriter(tmp_path / "m.img", layout),
                   NpyClassWriter(tmp_path / "m.npy", layout)):
        with writer:
            for tile in parts:
                writer.write(tile)
    codes = full_codes(layout, parts)
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), codes)
    positions = spectral.open_image(str(tmp_path / "m.hdr")).read_band(0)
    np.testing.assert_array_equal(np.asarray([0, 4, 8])[positions], codes)


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    layout = MapLayout(10, 10, (1, 2), ("a", "b"))
    for suffix in CLASS_MAP_WRITERS:
        folder = tmp_path / suffix.strip(".")
        folder.mkdir()
        writers = class_map_writers(folder / f"map{suffix}", layout)
        for writer in writers:
            for path in writer.outputs:
                path.write_bytes(b"previous")
        with pytest.raises(RuntimeError, match="disk full"):
            for writer in writers:
                writer.__enter__()
            for writer in writers:
                writer.write(tiles(layout, 10, 10)[0])
            error = RuntimeError("disk full")
            for writer in writers:
                writer.__exit__(RuntimeError, error, None)
            raise error
        assert all(p.read_bytes() == b"previous" for p in folder.iterdir()), suffix
        assert len(list(folder.iterdir())) == sum(len(w.outputs) for w in writers)


def test_the_quicklook_of_a_long_scene_is_decimated(tmp_path: Path) -> None:
    layout = MapLayout(3 * MAX_SIDE + 5, 40, (1, 2), ("a", "b"))
    writer = QuicklookWriter(tmp_path / "q.png", layout, title="long")
    assert writer.step == 4
    with writer:
        for tile in tiles(layout, 997, 40):
            writer.write(tile)
        small = writer._small
        assert small is not None and small.shape == (math.ceil(layout.height / 4), 10)
        # Every decimated pixel came from some tile; only the nodata corner is 0.
        assert np.count_nonzero(small == 0) == 1 and small[0, 0] == 0
    assert (tmp_path / "q.png").read_bytes()[:4] == b"\x89PNG"


def test_gdal_block_cache_is_bounded_while_geotiffs_are_written(tmp_path: Path) -> None:
    from rasterio.env import get_gdal_config

    from hsi_attn.inference.writers import GeoTiffProbabilityWriter, open_writers

    layout = MapLayout(600, 1000, (1, 2, 3), ("a", "b", "c"))
    writers = [GeoTiffClassWriter(tmp_path / "m.tif", layout),
               GeoTiffProbabilityWriter(tmp_path / "p.tif", layout)]
    # Two rows of 4 blocks of 256 x 256 bytes, for 1 + 3 bands.
    assert sum(w.cache_bytes for w in writers) == 2 * 4 * 4 * 256 * 256
    with open_writers(writers):
        assert int(get_gdal_config("GDAL_CACHEMAX")) == 8 << 20
        for tile in tiles(layout, 256, 1000):
            for writer in writers:
                writer.write(tile)
    with rasterio.open(tmp_path / "p.tif") as probs:
        assert (probs.read().astype(int).sum(axis=0)[probs.read_masks(1) > 0] == 255).all()
