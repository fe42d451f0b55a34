"""The scikit-learn face of hsi_attn: :class:`HSIClassifier` and :class:`PatchExtractor`."""

from hsi_attn.sklearn.estimator import HSIClassifier
from hsi_attn.sklearn.holdout import holdout_split
from hsi_attn.sklearn.parameters import EARLY_STOPPING_PATIENCE
from hsi_attn.sklearn.patch_extractor import PatchExtractor

__all__ = ["EARLY_STOPPING_PATIENCE", "HSIClassifier", "PatchExtractor", "holdout_split"]
