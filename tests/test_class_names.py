"""Class names from a JSON or CSV file, from the ENVI header, or the code itself."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from user_rasters import write_envi_classes

from hsi_attn.data import DataFileError, UnusedClassNamesWarning, read_class_names
from hsi_attn.data.class_names import class_names_for
from hsi_attn.data.label_files import read_label_codes


@pytest.mark.parametrize("name, text", [
    ("names.json", '{"1": "water", "10": "corn, no-till", "12": "soy"}'),
    ("names.csv", 'code,name\n1,water\n10,"corn, no-till"\n\n12,soy\n'),
    ("names.csv", '1,water\n10,"corn, no-till"\n12,soy\n'),
    ("names.txt", '1, water\n10,corn, no-till\n12 ,soy'),
])
def test_names_files(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert read_class_names(path) == {1: "water", 10: "corn, no-till", 12: "soy"}


@pytest.mark.parametrize("name, text, pattern", [
    ("n.json", '{"one": "water"}', r"key 'one' has code 'one', which is not an integer"),
    ("n.json", '["water"]', r"holds a JSON list; write an object keyed by code"),
    ("n.json", '{"1": "a",', r"is not valid JSON"),
    ("n.json", '{"1": ""}', r"gives code 1 an empty name"),
    ("n.csv", "code,name\n1,a\nx,b\n", r"line 3 has code 'x'"),
    ("n.csv", "1,a\n1,b\n", r"line 2 names code 1 again \(first 'a'\)"),
    ("n.csv", "1\n", r"line 1 is '1'; each row must be code,name"),
    ("n.csv", "code,name\n", r"names no class"),
])
def test_bad_names_files(tmp_path: Path, name: str, text: str, pattern: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match=pattern) as info:
        read_class_names(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_class_names(tmp_path / "absent.csv")


def test_names_resolve_by_code() -> None:
    names = {1: "water", 10: "corn", 12: "soy"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a name for the unlabelled code is not unused
        assert class_names_for((1, 10, 12), from_file={**names, 0: "unlabelled"},
                               file_path="n.csv") == ("water", "corn", "soy")
    with pytest.warns(UnusedClassNamesWarning, match=r"names codes \[10\] .* are ignored"):
        assert class_names_for((1, 12), from_file=names, file_path="n.csv") == ("water", "soy")
    with pytest.raises(DataFileError, match=r"'n.csv' has no name for codes \[7\]"):
        class_names_for((1, 7), from_file=names, file_path="n.csv")
    assert class_names_for((1, 12, 30), from_header={0: "Unclassified", 1: "water", 12: "soy"}
                           ) == ("water", "soy", "30")
    assert class_names_for((3, 12)) == ("3", "12")


def test_envi_classification_header_names_its_codes(tmp_path: Path) -> None:
    codes = np.zeros((4, 5), dtype=np.uint8)
    codes[0, :3] = [1, 2, 3]
    header = write_envi_classes(tmp_path / "gt.hdr", codes,
                                class_names=["Unclassified", "water", "corn", "soy"])
    labels = read_label_codes(header)
    assert labels.header_names == {0: "Unclassified", 1: "water", 2: "corn", 3: "soy"}
    assert labels.codes.tolist() == codes.astype(np.int64).tolist()
