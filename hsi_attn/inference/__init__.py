"""Full-scene prediction: class probabilities for every pixel of a cube.

:func:`predict_scene` is the entry point (dense one-pass inference for models with an
exact dense twin, batched per-patch inference otherwise; :mod:`hsi_attn.inference.scene`);
the dense method's spatial tiles and their memory budget are in
:mod:`hsi_attn.inference.tiles`.
"""

from hsi_attn.inference.scene import METHODS, predict_scene
from hsi_attn.inference.tiles import dense_tile_size, tile_grid

__all__ = ["METHODS", "dense_tile_size", "predict_scene", "tile_grid"]
