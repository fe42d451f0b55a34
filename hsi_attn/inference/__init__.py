"""Full-scene prediction: class probabilities for every pixel of a cube.

:func:`predict_scene` is the entry point (dense one-pass inference for models with an
exact dense twin, batched per-patch inference otherwise); see
:mod:`hsi_attn.inference.scene`.
"""

from hsi_attn.inference.scene import METHODS, dense_tile_size, predict_scene, tile_grid

__all__ = ["METHODS", "dense_tile_size", "predict_scene", "tile_grid"]
