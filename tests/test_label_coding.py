"""The user's class codes map to classes 1..K and back, with no phantom classes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsi_attn.data import LabelCoding


def test_sparse_codes_make_only_the_classes_present() -> None:
    salinas_a = np.array([[0, 1, 10], [11, 12, 13], [14, 0, 1]])
    coding = LabelCoding.from_codes(salinas_a)
    assert coding.class_codes == (1, 10, 11, 12, 13, 14) and coding.n_classes == 6
    assert coding.encode(salinas_a).tolist() == [[0, 1, 2], [3, 4, 5], [6, 0, 1]]
    few = LabelCoding.from_codes(np.array([[1, 2], [7, 0]]))
    assert few.class_codes == (1, 2, 7) and few.n_classes == 3
    assert few.encode(np.array([[7, 2]])).tolist() == [[3, 2]]


def test_ignore_label_and_missing_pixels_are_unlabelled() -> None:
    codes = np.array([[255, 0, 3], [3, 255, 0]])
    coding = LabelCoding.from_codes(codes, ignore_label=255)
    assert coding.class_codes == (0, 3)  # 0 is a class when 255 marks unlabelled
    assert coding.encode(codes).tolist() == [[0, 1, 2], [2, 0, 1]]
    assert coding.decode(coding.encode(codes)).tolist() == codes.tolist()
    missing = np.array([[False, False, True], [False, False, False]])
    masked = LabelCoding.from_codes(np.array([[1, 2, 9], [2, 1, 1]]), missing=missing)
    assert masked.class_codes == (1, 2)
    assert masked.encode(np.array([[1, 2, 9]]), missing=missing[:1]).tolist() == [[1, 2, 0]]


def test_foreign_codes_and_bad_codings_are_errors() -> None:
    coding = LabelCoding((1, 10, 12))
    with pytest.raises(ValueError, match=r"codes \[11\] that are not among the classes "
                                         r"\[1, 10, 12\]"):
        coding.encode(np.array([[1, 11]]), source="labels 'b.tif'")
    with pytest.raises(ValueError, match="distinct and increasing"):
        LabelCoding((3, 1))
    with pytest.raises(ValueError, match="ignore_label 3 is also a class code"):
        LabelCoding((1, 3), ignore_label=3)
    with pytest.raises(ValueError, match=r"labels must be 0..3"):
        coding.decode(np.array([4]))
    assert LabelCoding.identity(3) == LabelCoding((1, 2, 3))


@settings(max_examples=60, deadline=None)
@given(codes=st.sets(st.integers(-1000, 100_000), min_size=1, max_size=30),
       ignore=st.integers(-5, 300), seed=st.integers(0, 2**16))
def test_coding_round_trips_for_any_code_set(codes: set[int], ignore: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.array(sorted(codes | {ignore}))
    code_map = rng.choice(values, size=(7, 9))
    coding = LabelCoding.from_codes(code_map, ignore_label=ignore)
    labels = coding.encode(code_map)
    present = sorted(set(code_map.ravel().tolist()) - {ignore})
    assert list(coding.class_codes) == present
    assert labels.min() >= 0 and labels.max() <= len(present)
    assert set(np.unique(labels[labels > 0]).tolist()) == set(range(1, len(present) + 1))
    assert np.array_equal(coding.decode(labels), code_map)
    assert np.array_equal(labels == 0, code_map == ignore)
