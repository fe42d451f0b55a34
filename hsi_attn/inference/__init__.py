"""Full-scene prediction: class probabilities for every pixel of a cube.

:func:`predict_scene` is the in-memory entry point (dense one-pass inference for models
with an exact dense twin, batched per-patch inference otherwise;
:mod:`hsi_attn.inference.scene`); the dense method's spatial tiles and their memory
budget are in :mod:`hsi_attn.inference.tiles`. :func:`predict_stream`
(:mod:`hsi_attn.inference.stream`) classifies a cube of any size tile by tile within a
memory budget, with the same result, and hands each tile to the map writers of
:mod:`hsi_attn.inference.writers` (GeoTIFF, ENVI classification, ``.npy``, PNG).
"""

from hsi_attn.inference.scene import METHODS, predict_padded_dense, predict_scene
from hsi_attn.inference.stream import StreamStats, predict_stream
from hsi_attn.inference.tiles import dense_tile_size, tile_grid

__all__ = ["METHODS", "StreamStats", "dense_tile_size", "predict_padded_dense", "predict_scene",
           "predict_stream", "tile_grid"]
