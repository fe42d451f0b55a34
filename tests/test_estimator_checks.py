"""scikit-learn's conformance suite (``parametrize_with_checks``) on a tiny HSIClassifier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from hsi_attn.estimator import HSIClassifier

pytestmark = pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")

# Checks whose premise cannot hold for this estimator, with the reason.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _without_onednn() -> Iterator[None]:
    # torch 2.13's oneDNN Conv3d weight gradient is broken for 5-7 input bands with
    # resnet3d's stem (kernel 7, stride 2, padding 3 along the bands): 5 corrupts the
    # heap, 6 and 7 give gradients of 1e21+. sklearn's checks fit on 5 features (e.g.
    # check_estimators_dtypes). Reported to the model owners; drop this once fixed.
    with torch.backends.mkldnn.flags(enabled=False):
        yield


def _tiny() -> HSIClassifier:
    return HSIClassifier(
        attention="eca_band", epochs=3, batch_size=16, lr=1e-2, device="cpu", random_state=0
    )


@parametrize_with_checks([_tiny()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_conformance(estimator: HSIClassifier, check) -> None:  # noqa: ANN001
    check(estimator)
