"""The conditional search space: what is sampled for which attention, and its file format."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from hsi_attn.config import RunConfig
from hsi_attn.layers import accepted_options
from hsi_attn.models.checks import three_d_attention_names
from hsi_attn.tuning import SearchSpace, load_search_space, suggest_config

REPO = Path(__file__).resolve().parents[1]
TUNABLE = ("reduction", "kernel_size")


def _sample(space: SearchSpace, n: int, seed: int = 0) -> list[tuple[dict, RunConfig]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    base = RunConfig()
    out = []
    for _ in range(n):
        trial = study.ask()
        config = suggest_config(trial, space, base)
        study.tell(trial, 0.0)
        out.append((dict(trial.params), config))
    return out


def test_never_samples_reduction_for_eca_layers() -> None:
    eca_family = [a for a in three_d_attention_names() if "kernel_size" in accepted_options(a)]
    assert "eca_band" in eca_family
    for name in eca_family:
        for params, config in _sample(SearchSpace(attentions=(name,)), 15):
            assert "reduction" not in params
            assert "kernel_size" in params
            assert config.model.attention == name
            assert config.model.kernel_size == params["kernel_size"]
            assert config.model.reduction == RunConfig().model.reduction  # untouched


def test_every_attention_gets_exactly_the_options_it_accepts() -> None:
    # Every attention the models can take (the 2-D layers are refused by the space).
    space = SearchSpace(attentions=tuple(three_d_attention_names()))
    seen = set()
    for params, config in _sample(space, 120, seed=1):
        name = params["attention"]
        seen.add(name)
        sampled = {p for p in TUNABLE if p in params}
        assert sampled == set(TUNABLE) & accepted_options(name), (name, params)
        assert {"lr", "weight_decay"} <= set(params)
        assert config.train.lr == params["lr"]
        assert config.train.weight_decay == params["weight_decay"]
    assert seen == set(three_d_attention_names())


def test_values_come_from_the_declared_choices_and_bounds() -> None:
    space = SearchSpace(attentions=("se_band", "eca_band"), reductions=(4, 16),
                        kernel_sizes=("adaptive", 5), lr=(1e-3, 2e-3), weight_decay=(1e-5, 1e-5),
                        patch_sizes=(5, 7))
    for params, config in _sample(space, 40, seed=2):
        assert params.get("reduction", 4) in (4, 16)
        assert params.get("kernel_size", 5) in ("adaptive", 5)
        assert 1e-3 <= params["lr"] <= 2e-3
        assert config.train.weight_decay == pytest.approx(1e-5)
        assert config.model.patch_size == params["patch_size"] in (5, 7)


def test_one_attention_or_patch_size_is_fixed_not_sampled() -> None:
    space = SearchSpace(attentions=("se_band",), patch_sizes=(7,))
    for params, config in _sample(space, 5):
        assert "attention" not in params and "patch_size" not in params
        assert config.model.attention == "se_band" and config.model.patch_size == 7


def test_fixed_trial_replays_a_configuration() -> None:
    space = SearchSpace(attentions=("se_band", "eca_band"))
    params, config = _sample(space, 1, seed=3)[0]
    replay = suggest_config(optuna.trial.FixedTrial(params), space, RunConfig())
    assert replay == config


def test_example_file_loads(tmp_path: Path) -> None:
    space = load_search_space(REPO / "experiments" / "tune" / "search_space.toml")
    assert space.attentions == ("eca_band", "se_band")
    assert space.kernel_sizes == ("adaptive", 1, 3, 5, 7, 9)
    assert space.reductions == (2, 4, 8, 16, 32)
    path = tmp_path / "space.json"
    path.write_text(json.dumps(space.to_dict()))
    assert load_search_space(path) == space


def test_file_keys_override_defaults_and_others_stay(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text('reduction = [8, 16]\nlr = [1e-3, 1e-2]\n')
    space = load_search_space(path)
    assert space.reductions == (8, 16) and space.lr == (1e-3, 1e-2)
    assert space.kernel_sizes == SearchSpace().kernel_sizes


def test_unknown_key_in_file_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text("reductions = [2, 4]\n")
    with pytest.raises(ValueError, match=r"unknown key 'reductions'.*Did you mean 'reduction'"
                                         r".*Accepted keys: attention, reduction"):
        load_search_space(path)


@pytest.mark.parametrize(("text", "message"), [
    ("kernel_size = [4]", "kernel_size value 4 is not valid: kernel_size \\(--kernel-size\\) "
                          "must be 'adaptive' or an odd integer"),
    ("reduction = [0, 2]", "reduction value 0 is not valid.*integer >= 1, got 0"),
    ("patch_size = [9, 8]", "patch_size value 8 is not valid.*use 7 or 9"),
    ("lr = [0, 1e-2]", "lr bound 0 is not valid.*> 0"),
    ('attention = ["se"]', "2-D layer"),
    ("lr = [1e-2, 1e-4]", "lr must be \\[low, high\\]"),
    ("lr = 0.01", "lr must be a list"),
    ('attention = ["eca_bnad"]', "Did you mean 'eca_band'"),
    ("reduction = [2", "does not parse"),
])
def test_bad_values_in_file_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "space.toml"
    path.write_text(text + "\n")
    with pytest.raises(ValueError, match=message):
        load_search_space(path)


def test_missing_or_wrongly_named_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_search_space(tmp_path / "nope.toml")
    path = tmp_path / "space.yaml"
    path.write_text("reduction: [2]\n")
    with pytest.raises(ValueError, match="must end in .toml or .json"):
        load_search_space(path)
