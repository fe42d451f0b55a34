"""Train/validation/test splits over a ground-truth map, stratified per class.

Every split returns a :class:`Split` of ``(n, 2)`` int64 ``(row, col)`` coordinates.

- :func:`split_random`: the usual random pixel split. Its training patches overlap
  test pixels; :func:`hsi_attn.data.leakage.leakage` measures how much.
- :func:`split_disjoint`: compact blocks of each class (whole fields, or one end of a
  field) go to one set, and a guard band of ``patch_size // 2`` pixels separates the
  sets, so no training patch contains a validation or test pixel and no validation
  patch contains a test pixel.
- :func:`split_from_masks`: masks the user already has.
- :func:`split_fixed`: a fixed split from the literature (its training and test maps),
  with validation carved out of the training map spatially.
- :class:`SpatialKFold`: a scikit-learn CV splitter with spatially disjoint folds.

Sizes: a float in (0, 1) is a fraction of each class, rounded, with at least one
pixel; an int is a count per class. Every class present in ``gt`` keeps at least one
training and one test pixel, and one validation pixel when a validation set is asked
for (except that :func:`split_disjoint` may leave a class too small for its guard band
out of validation, with a :class:`SplitWarning`); a request that cannot meet this
raises ValueError naming the class.
Reference for why random splits mislead: Nalepa, Myller & Kawulok, "Validating
Hyperspectral Image Segmentation", IEEE GRSL 2019, https://arxiv.org/abs/1811.03707.
"""

from hsi_attn.data.spatial_cv import SpatialKFold
from hsi_attn.data.splits.disjoint import split_disjoint
from hsi_attn.data.splits.fixed import split_fixed
from hsi_attn.data.splits.masks import split_from_masks
from hsi_attn.data.splits.random import split_random
from hsi_attn.data.splits.split import SUBSETS, Split, SplitWarning

__all__ = [
    "SUBSETS",
    "SpatialKFold",
    "Split",
    "SplitWarning",
    "split_disjoint",
    "split_fixed",
    "split_from_masks",
    "split_random",
]
