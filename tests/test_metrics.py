"""Metrics agree with scikit-learn, and summaries over runs are mean ± sample std."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from hsi_attn.engine.metrics import (
    average_accuracy,
    classification_metrics,
    cohen_kappa,
    confusion_matrix,
    overall_accuracy,
    per_class_accuracy,
    summarize_runs,
)

labels = st.integers(min_value=2, max_value=6).flatmap(
    lambda k: st.tuples(
        st.just(k),
        st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=60),
    )
)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=60, deadline=None)
@given(labels)
def test_metrics_match_sklearn(case: tuple[int, list[tuple[int, int]]]) -> None:
    k, pairs = case
    y_true = np.array([t for t, _ in pairs])
    y_pred = np.array([p for _, p in pairs])
    cm = confusion_matrix(y_true, y_pred, k)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y_true, y_pred, labels=range(k)))
    assert overall_accuracy(cm) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    present = np.unique(y_true)
    recall = skm.recall_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    np.testing.assert_allclose(per_class_accuracy(cm)[present], recall)
    assert np.isnan(per_class_accuracy(cm)[np.setdiff1d(np.arange(k), present)]).all()
    assert average_accuracy(cm) == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    expected_kappa = skm.cohen_kappa_score(y_true, y_pred, labels=list(range(k)))
    if math.isnan(expected_kappa):
        expected_kappa = 1.0 if (y_true == y_pred).all() else 0.0
    assert cohen_kappa(cm) == pytest.approx(expected_kappa, abs=1e-12)


def test_classification_metrics_report() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2])
    report = classification_metrics(y_true, y_pred, 4, class_names=["a", "b", "c", "d"])
    assert report["oa"] == pytest.approx(5 / 7)
    assert report["aa"] == pytest.approx((0.5 + 1 + 2 / 3) / 3)
    assert report["kappa"] == pytest.approx(skm.cohen_kappa_score(y_true, y_pred))
    assert report["per_class"][3] == {"class": 3, "code": 4, "name": "d", "accuracy": None,
                                      "support": 0}
    coded = classification_metrics(y_true, y_pred, 4, class_codes=[1, 10, 12, 200])
    assert [c["code"] for c in coded["per_class"]] == [1, 10, 12, 200]
    with pytest.raises(ValueError, match="3 class codes given for 4 classes"):
        classification_metrics(y_true, y_pred, 4, class_codes=[1, 2, 3])
    assert report["confusion"][2] == [1, 0, 2, 0]


def test_bad_labels_are_rejected() -> None:
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="2 labels but y_pred has 1"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)


def test_summarize_runs_mean_and_sample_std() -> None:
    runs = [
        classification_metrics(np.array([0, 1, 1, 0]), np.array(p), 2)
        for p in ([0, 1, 1, 0], [0, 1, 0, 0], [1, 1, 0, 0])
    ]
    summary = summarize_runs(runs)
    oas = [1.0, 0.75, 0.5]
    assert summary["n_runs"] == 3
    assert summary["oa"]["mean"] == pytest.approx(np.mean(oas))
    assert summary["oa"]["std"] == pytest.approx(np.std(oas, ddof=1))
    assert summary["oa"]["values"] == oas
    assert summary["per_class"][0]["mean"] == pytest.approx(np.mean([1.0, 1.0, 0.5]))
    assert summarize_runs(runs[:1])["kappa"]["std"] == 0.0
    with pytest.raises(ValueError, match="at least one"):
        summarize_runs([])
