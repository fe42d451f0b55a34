"""scikit-learn's conformance suite (``parametrize_with_checks``) on a tiny HSIClassifier."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from hsi_attn.sklearn.estimator import HSIClassifier

# Checks whose premise cannot hold for this estimator, with the reason.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


def _tiny() -> HSIClassifier:
    return HSIClassifier(
        attention="eca_band", epochs=3, batch_size=16, lr=1e-2, device="cpu", random_state=0
    )


@parametrize_with_checks([_tiny()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_conformance(estimator: HSIClassifier, check) -> None:  # noqa: ANN001
    check(estimator)
