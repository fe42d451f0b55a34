"""The options table generated from the configuration's field metadata, and its parsing."""

from __future__ import annotations

import ast
import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import hsi_attn
from hsi_attn.cli import SUBCOMMANDS, build_parser, main
from hsi_attn.cli.options import config_from_args
from hsi_attn.config import VALUE_KINDS, DataConfig, ModelConfig, RunConfig, TrainConfig

SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def _fields(*, searched: bool | None = None) -> list[tuple[str, str]]:
    """(section, field) of every configuration setting, optionally only (non-)searched ones."""
    return [(section, item.name) for section, cls in SECTIONS.items()
            for item in dataclasses.fields(cls)
            if searched is None or bool(item.metadata.get("searched")) == searched]


def _subparser(name: str) -> Any:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[name]


def _config_dests(name: str) -> list[tuple[str, str]]:
    return [tuple(action.dest.split("__")) for action in _subparser(name)._actions
            if "__" in action.dest]


def test_train_takes_every_setting_exactly_once() -> None:
    dests = _config_dests("train")
    assert Counter(dests) == Counter(_fields())


def test_tune_takes_every_setting_it_does_not_search_exactly_once() -> None:
    dests = _config_dests("tune")
    assert Counter(dests) == Counter(_fields(searched=False))
    assert not set(dests) & set(_fields(searched=True))
    flags = {flag for action in _subparser("tune")._actions for flag in action.option_strings}
    assert {"--attention", "--patch-size", "--search-space"} <= flags  # the search space


def test_help_comes_from_the_configuration_with_its_default() -> None:
    defaults = RunConfig()
    for action in _subparser("train")._actions:
        if "__" not in action.dest:
            continue
        section, name = action.dest.split("__")
        item = next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == name)
        assert action.help.startswith(item.metadata["help"].replace("%", "%%"))
        assert action.default is not None  # SUPPRESS, never a second copy of the default
        if item.metadata["flag"]:
            assert item.metadata["flag"] in action.option_strings
        value = getattr(getattr(defaults, section), name)
        if value is not None and not isinstance(value, bool):
            assert f"(default: {value})" in action.help


# (arguments, section, field, expected value): at least one case for every value kind.
PARSED = [
    (["--device", "cpu"], "train", "device", "cpu", "str"),
    (["--epochs", "7"], "train", "epochs", 7, "int"),
    (["--lr", "0.01"], "train", "lr", 0.01, "float"),
    (["--no-augment"], "train", "augment", False, "bool"),
    (["--class-weights"], "train", "class_weights", True, "bool"),
    (["--train-size", "0.3"], "data", "train_size", 0.3, "fraction_or_count"),
    (["--train-size", "20"], "data", "train_size", 20, "fraction_or_count"),
    (["--pca", "none"], "data", "pca", None, "int_or_none"),
    (["--pca", "12"], "data", "pca", 12, "int_or_none"),
    (["--kernel-size", "adaptive"], "model", "kernel_size", "adaptive", "int_or_adaptive"),
    (["--kernel-size", "5"], "model", "kernel_size", 5, "int_or_adaptive"),
    (["--grad-clip", "none"], "train", "grad_clip", None, "float_or_none"),
    (["--grad-clip", "1.5"], "train", "grad_clip", 1.5, "float_or_none"),
    (["--split", "disjoint"], "data", "split", "disjoint", "str"),
]


def test_the_parse_cases_cover_every_value_kind() -> None:
    kinds = {kind for *_, kind in PARSED} | {"path"}  # path: test_paths_are_made_absolute
    assert kinds == set(VALUE_KINDS)


@pytest.mark.parametrize(("argv", "section", "name", "expected", "kind"), PARSED)
def test_each_kind_parses_into_the_run_config(argv: list[str], section: str, name: str,
                                              expected: Any, kind: str) -> None:
    args = build_parser().parse_args(["train", *argv])
    config = config_from_args(args)
    value = getattr(getattr(config, section), name)
    assert value == expected and type(value) is type(expected)
    changed, defaults = config.to_dict(), RunConfig().to_dict()
    del changed[section][name], defaults[section][name]
    assert changed == defaults  # nothing else moved


def test_paths_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["train", "--cube", "cube.npy", "--gt", "~/gt.npy"])
    data = config_from_args(args).data
    assert data.cube_path == str(tmp_path / "cube.npy")
    assert data.gt_path == str(Path("~/gt.npy").expanduser())


def test_only_given_options_override_the_base() -> None:
    base = dataclasses.replace(RunConfig(), data=dataclasses.replace(RunConfig().data, pca=None),
                               train=dataclasses.replace(RunConfig().train, epochs=3))
    config = config_from_args(build_parser().parse_args(["train", "--lr", "0.5"]), base)
    assert config.data.pca is None and config.train.epochs == 3 and config.train.lr == 0.5
    assert config_from_args(build_parser().parse_args(["train"]), base) == base


@pytest.mark.parametrize(("argv", "pattern"), [
    (["train", "--epochs", "many"], "invalid int value: 'many'"),
    (["train", "--pca", "some"], "'some' is not an integer or 'none'"),
    (["train", "--kernel-size", "big"], "'big' is not an integer or 'adaptive'"),
    (["train", "--grad-clip", "x"], "'x' is not a number or 'none'"),
    (["train", "--train-size", "a lot"], "neither a fraction"),
    (["tune", "--lr", "0.1"], "unrecognized arguments: --lr"),
])
def test_bad_values_are_one_line_usage_errors(argv: list[str], pattern: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("hsi-attn: error: ")
    assert pattern in err and "Traceback" not in err


def test_an_unknown_split_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--split", "diagonal"]) != 0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "must be one of random, disjoint, fixed or fixed:NAME" in err


@pytest.mark.parametrize("name", [entry.name for entry in SUBCOMMANDS])
def test_help_of_every_subcommand(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: hsi-attn {name}") and "--quiet" in out


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(entry.name in out for entry in SUBCOMMANDS)
    assert main([]) == 2


def test_argparse_and_the_cli_stay_inside_the_cli_package() -> None:
    package = Path(hsi_attn.__file__).parent
    offenders = []
    for path in package.rglob("*.py"):
        if path.parent.name == "cli" and path.parent.parent == package:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "argparse" or n.startswith("hsi_attn.cli") for n in names):
                offenders.append(str(path.relative_to(package)))
    assert offenders == []


def test_cli_modules_stay_small() -> None:
    folder = Path(hsi_attn.__file__).parent / "cli"
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in folder.glob("*.py")}
    assert max(sizes.values()) < 400, sizes
