"""The configuration validates itself: every bad value, every warning, JSON round trips."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsi_attn.config import (
    AdjustedSettingWarning,
    DataConfig,
    IgnoredSettingWarning,
    ModelConfig,
    RunConfig,
    SettingWarning,
    TrainConfig,
    check_setting,
    from_dict,
    setting_label,
)
from hsi_attn.layers import accepted_options, attentions_using
from hsi_attn.models import create_model
from hsi_attn.models.checks import three_d_attention_names

REPO = Path(__file__).resolve().parents[1]
NAN = float("nan")
INF = float("inf")

# (config class, field, bad value, words the message must hold besides the field and flag)
BAD_VALUES: list[tuple[type, str, Any, str]] = [
    (DataConfig, "scene", "", "non-empty string"),
    (DataConfig, "scene", None, "non-empty string"),
    (DataConfig, "split", "blocks", "random, disjoint"),
    (DataConfig, "split", "rand", "did you mean 'random'"),
    (DataConfig, "train_size", 0, "fraction per class in (0, 1)"),
    (DataConfig, "train_size", 0.0, "fraction per class in (0, 1)"),
    (DataConfig, "train_size", 1.0, "integer count per class >= 1"),
    (DataConfig, "train_size", 10.0, "for 10% write 0.1"),
    (DataConfig, "train_size", -3, "got -3"),
    (DataConfig, "train_size", True, "got True"),
    (DataConfig, "train_size", "0.1", "got '0.1'"),
    (DataConfig, "train_size", NAN, "got nan"),
    (DataConfig, "val_size", -1, "(or 0 for none)"),
    (DataConfig, "val_size", 1.5, "got 1.5"),
    (DataConfig, "normalization", "zscore", "standard, minmax, none"),
    (DataConfig, "pca", 0, "integer >= 1 or none (all bands)"),
    (DataConfig, "pca", 2.0, "got 2.0"),
    (DataConfig, "pca", True, "got True"),
    (DataConfig, "pad_mode", "wrap", "reflect, symmetric"),
    (DataConfig, "cube_path", "", "non-empty string"),
    (DataConfig, "cube_path", 3, "got 3"),
    (DataConfig, "cube_variable", "", "non-empty string"),
    (ModelConfig, "name", "resnet3x", "Did you mean 'resnet3d'"),
    (ModelConfig, "name", 3, "must be a non-empty string"),
    (ModelConfig, "attention", "eca_bnd", "Did you mean 'eca_band'"),
    (ModelConfig, "attention", "se", "2-D layer"),
    (ModelConfig, "reduction", 0, "integer >= 1"),
    (ModelConfig, "reduction", 4.0, "got 4.0"),
    (ModelConfig, "reduction", True, "got True"),
    (ModelConfig, "kernel_size", 4, "'adaptive' or an odd integer >= 1"),
    (ModelConfig, "kernel_size", 0, "got 0"),
    (ModelConfig, "kernel_size", "auto", "got 'auto'"),
    (ModelConfig, "patch_size", 4, "use 3 or 5"),
    (ModelConfig, "patch_size", 0, "odd integer >= 1"),
    (ModelConfig, "patch_size", -3, "got -3"),
    (ModelConfig, "patch_size", 5.0, "got 5.0"),
    (ModelConfig, "patch_size", False, "got False"),
    (TrainConfig, "epochs", 0, "integer >= 1"),
    (TrainConfig, "epochs", 10.0, "got 10.0"),
    (TrainConfig, "batch_size", 0, "integer >= 1, got 0"),
    (TrainConfig, "batch_size", -64, "got -64"),
    (TrainConfig, "lr", 0, "finite number > 0"),
    (TrainConfig, "lr", -1e-3, "got -0.001"),
    (TrainConfig, "lr", NAN, "got nan"),
    (TrainConfig, "lr", INF, "got inf"),
    (TrainConfig, "lr", "3e-3", "got '3e-3'"),
    (TrainConfig, "weight_decay", -1e-4, "finite number >= 0"),
    (TrainConfig, "optimizer", "adamx", "adamw, adam, sgd"),
    (TrainConfig, "scheduler", "linear", "cosine, onecycle, step, none"),
    (TrainConfig, "grad_clip", 0, "finite number > 0 or none (no clipping)"),
    (TrainConfig, "grad_clip", -5.0, "got -5.0"),
    (TrainConfig, "class_weights", 1, "true or false"),
    (TrainConfig, "class_weights", "yes", "true or false"),
    (TrainConfig, "label_smoothing", 2, "number in [0, 1)"),
    (TrainConfig, "label_smoothing", 1.0, "got 1.0"),
    (TrainConfig, "label_smoothing", -0.1, "got -0.1"),
    (TrainConfig, "patience", 0, "integer >= 1 or none (no early stopping)"),
    (TrainConfig, "precision", "fp64", "auto, fp32, bf16, fp16"),
    (TrainConfig, "compile", "true", "true or false"),
    (TrainConfig, "device", "gpu", "auto, cpu, cuda, cuda:N or mps"),
    (TrainConfig, "device", "cuda:x", "got 'cuda:x'"),
    (TrainConfig, "device", "auto:0", "got 'auto:0'"),
    (TrainConfig, "seed", -1, "integer >= 0"),
    (TrainConfig, "seed", 1.5, "got 1.5"),
    (TrainConfig, "eval_batch_size", 0, "integer >= 1"),
    (TrainConfig, "augment", None, "true or false"),
]


def _field(cls: type, name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


@pytest.mark.parametrize(("cls", "name", "value", "words"), BAD_VALUES,
                         ids=[f"{c.__name__}.{n}={v!r}" for c, n, v, _ in BAD_VALUES])
def test_every_bad_value_is_a_one_line_error_naming_the_field(
    cls: type, name: str, value: Any, words: str
) -> None:
    with pytest.raises(ValueError) as info:
        cls(**{name: value})
    message = str(info.value)
    assert "\n" not in message
    assert setting_label(_field(cls, name)) in message  # field and flag
    assert words in message
    with pytest.raises(ValueError):
        from_dict(cls, {name: value})  # the JSON path checks the same way


def test_every_field_has_a_check_and_its_default_passes_it() -> None:
    for cls in (DataConfig, ModelConfig, TrainConfig):
        for item in dataclasses.fields(cls):
            assert callable(item.metadata["check"]), item.name
            assert check_setting(cls, item.name, item.default) == item.default


@pytest.mark.filterwarnings("ignore::hsi_attn.config.IgnoredSettingWarning")
def test_every_choice_from_the_metadata_is_accepted_and_made_canonical() -> None:
    for cls in (DataConfig, TrainConfig):
        for item in dataclasses.fields(cls):
            for choice in item.metadata["choices"] or ():
                assert getattr(cls(**{item.name: choice}), item.name) == choice
                assert getattr(cls(**{item.name: f" {choice.upper()} "}), item.name) == choice


@pytest.mark.parametrize(("cls", "changes", "expected"), [
    (ModelConfig, {"name": "ResNet3D", "attention": "SE_Band"},
     {"name": "resnet3d", "attention": "se_band"}),
    (ModelConfig, {"kernel_size": "Adaptive"}, {"kernel_size": "adaptive"}),
    (ModelConfig, {"reduction": np.int64(8), "attention": "se_band", "patch_size": np.int32(7)},
     {"reduction": 8, "patch_size": 7}),
    (TrainConfig, {"lr": 1, "epochs": np.int64(3), "device": " CUDA:1 "},
     {"lr": 1.0, "epochs": 3, "device": "cuda:1"}),
    (TrainConfig, {"weight_decay": np.float32(0.5), "grad_clip": None, "patience": 4},
     {"weight_decay": 0.5, "grad_clip": None, "patience": 4}),
    (DataConfig, {"train_size": np.int64(20), "val_size": 0, "pca": None},
     {"train_size": 20, "val_size": 0, "pca": None}),
    (DataConfig, {"cube_path": Path("/tmp/cube.npy"), "gt_path": "/tmp/gt.npy"},
     {"cube_path": "/tmp/cube.npy"}),
])
def test_accepted_values_are_stored_as_plain_json_types(
    cls: type, changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    config = cls(**changes)
    for name, value in expected.items():
        assert getattr(config, name) == value
        assert type(getattr(config, name)) is type(value)
    json.dumps(dataclasses.asdict(config))


def test_val_size_zero_is_still_accepted() -> None:
    """Split functions accept 0 (no validation set); a run rejects it once it has data."""
    assert DataConfig(val_size=0).val_size == 0
    assert DataConfig(val_size=0.0).val_size == 0.0


def test_a_scene_of_your_own_may_have_any_name() -> None:
    """Scene names are checked by load_scene: a config may describe an in-memory Scene."""
    assert DataConfig(scene="tiny").scene == "tiny"
    assert DataConfig(scene="my field", cube_path="/x/cube.npy", gt_path="/x/gt.npy").scene


def test_run_config_sections_must_be_configs() -> None:
    with pytest.raises(ValueError, match="RunConfig.model must be a ModelConfig"):
        RunConfig(model={"name": "resnet3d"})  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- warnings


def _ignored(option: str) -> list[str]:
    return [a for a in three_d_attention_names() if option not in accepted_options(a)]


IGNORED = [("reduction", 8, a) for a in _ignored("reduction")] + [
    ("kernel_size", 3, a) for a in _ignored("kernel_size")
]


@pytest.mark.parametrize(("option", "value", "attention"), IGNORED,
                         ids=[f"{o}-{a}" for o, _, a in IGNORED])
def test_an_option_the_attention_ignores_is_warned_about(option: str, value: int,
                                                         attention: str) -> None:
    with pytest.warns(IgnoredSettingWarning) as record:
        config = ModelConfig(attention=attention, **{option: value})
    assert getattr(config, option) == value  # kept: the warning informs, it does not fix
    [warning] = record.list
    message = str(warning.message)
    flag = "--" + option.replace("_", "-")
    assert f"{option}={value!r} ({flag}) is ignored" in message
    assert repr(attention) in message
    assert all(user in message for user in attentions_using(option)
               if user in three_d_attention_names())
    assert warning.filename == __file__  # points at the constructor call


def test_the_eca_and_se_families_are_found_from_the_layers_signatures() -> None:
    assert {"eca_band", "eca_band_conv", "eca_dual", "none", "danet3d"} <= set(
        _ignored("reduction"))
    assert {"se3d", "se_band", "cbam_band", "none", "danet3d"} <= set(_ignored("kernel_size"))


@pytest.mark.parametrize("changes", [
    {},
    {"attention": "se_band", "reduction": 16},
    {"attention": "eca_band", "kernel_size": 5},
    {"attention": "none"},
    {"attention": "eca_dual", "reduction": 4},  # the default is never "ignored"
])
def test_used_or_default_options_do_not_warn(changes: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ModelConfig(**changes)


@pytest.mark.parametrize("name", ["gt_path", "cube_variable", "gt_variable"])
def test_own_cube_settings_without_a_cube_are_warned_about(name: str) -> None:
    with pytest.warns(IgnoredSettingWarning, match=rf"{name}='x' \(--[a-z-]+\) is ignored.*--cube"):
        DataConfig(**{name: "x"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DataConfig(**{name: "x", "cube_path": "/data/cube.mat"})


def test_a_reduction_wider_than_the_channels_warns_once_per_model_with_the_width() -> None:
    with pytest.warns(AdjustedSettingWarning) as record:
        create_model("resnet3d", n_bands=16, n_classes=3, patch_size=5, attention="se_band",
                     attention_kwargs={"reduction": 1000})
    assert len(record.list) == 1
    message = str(record.list[0].message)
    assert "reduction=1000 is larger than the 16 channels of 2 se_band attention layers" in message
    assert "clamped to 1" in message and "at most 16" in message
    assert record.list[0].filename == __file__  # points at the create_model call
    assert issubclass(AdjustedSettingWarning, SettingWarning)


def test_a_reduction_within_the_channels_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_model("resnet3d", n_bands=16, n_classes=3, patch_size=5, attention="se_band",
                     attention_kwargs={"reduction": 4})
        create_model("resnet3d", n_bands=16, n_classes=3, patch_size=5, attention="eca_band",
                     attention_kwargs={"reduction": 1000})  # ECA has no reduction to clamp


def test_a_single_layer_built_alone_warns_on_its_own() -> None:
    from hsi_attn.layers import create_attention

    with pytest.warns(AdjustedSettingWarning, match=r"reduction=64 is larger than the 8 channels "
                                                    r"of 1 se_band attention layer.*clamped to 1"):
        create_attention("se_band", 8, reduction=64)


def test_label_settings_only_apply_to_your_own_cube() -> None:
    with pytest.warns(IgnoredSettingWarning, match=r"class_names_path='n.csv' \(--class-names\) "
                                                   r"is ignored.*--cube FILE"):
        DataConfig(class_names_path="n.csv")
    with pytest.warns(IgnoredSettingWarning, match=r"ignore_label=255 \(--ignore-label\)"):
        DataConfig(ignore_label=255)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = DataConfig(cube_path="c.tif", gt_path="g.tif", class_names_path="n.csv",
                            ignore_label=-1)
    assert config.ignore_label == -1
    with pytest.raises(ValueError, match=r"ignore_label \(--ignore-label\) must be an integer"):
        DataConfig(cube_path="c.tif", ignore_label=1.5)


def test_a_variable_name_with_a_npy_cube_is_warned_about(tmp_path: Path) -> None:
    from hsi_attn.data.readers import load_cube, load_labels

    np.save(tmp_path / "cube.npy", np.zeros((3, 3, 2), dtype=np.float32))
    np.save(tmp_path / "gt.npy", np.ones((3, 3), dtype=np.int64))
    with pytest.warns(IgnoredSettingWarning, match=r"'data'.*--cube-variable.*is ignored.*\.npy"):
        assert load_cube(tmp_path / "cube.npy", variable="data").shape == (3, 3, 2)
    with pytest.warns(IgnoredSettingWarning, match=r"--gt-variable"):
        load_labels(tmp_path / "gt.npy", variable="gt")


# ----------------------------------------------------------------------- round trips, cost

_fraction = st.floats(min_value=0.001, max_value=0.999)
_odd = st.integers(min_value=0, max_value=20).map(lambda k: 2 * k + 1)

data_configs = st.builds(
    DataConfig,
    scene=st.sampled_from(["indian_pines", "salinas", "tiny"]),
    split=st.sampled_from(["random", "disjoint"]),
    train_size=st.one_of(_fraction, st.integers(min_value=1, max_value=500)),
    val_size=st.one_of(st.just(0), _fraction, st.integers(min_value=1, max_value=50)),
    normalization=st.sampled_from(["standard", "minmax", "none"]),
    pca=st.one_of(st.none(), st.integers(min_value=1, max_value=200)),
    pad_mode=st.sampled_from(["reflect", "symmetric"]),
)
model_configs = st.builds(
    ModelConfig,
    name=st.sampled_from(["resnet3d", "hamida3d", "hybridsn"]),
    attention=st.sampled_from(["se_band", "cbam_band", "se3d"]),
    reduction=st.integers(min_value=1, max_value=64),
    kernel_size=st.just("adaptive"),
    patch_size=_odd,
)
train_configs = st.builds(
    TrainConfig,
    epochs=st.integers(min_value=1, max_value=500),
    batch_size=st.integers(min_value=1, max_value=1024),
    lr=st.floats(min_value=1e-8, max_value=10.0),
    weight_decay=st.floats(min_value=0.0, max_value=1.0),
    optimizer=st.sampled_from(["adamw", "adam", "sgd"]),
    scheduler=st.sampled_from(["cosine", "onecycle", "step", "none"]),
    grad_clip=st.one_of(st.none(), st.floats(min_value=1e-3, max_value=100.0)),
    class_weights=st.booleans(),
    label_smoothing=st.floats(min_value=0.0, max_value=0.999),
    patience=st.one_of(st.none(), st.integers(min_value=1, max_value=100)),
    precision=st.sampled_from(["auto", "fp32", "bf16", "fp16"]),
    compile=st.booleans(),
    device=st.sampled_from(["auto", "cpu", "cuda", "cuda:3", "mps"]),
    seed=st.integers(min_value=0, max_value=2**32),
    eval_batch_size=st.integers(min_value=1, max_value=4096),
    augment=st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(data=data_configs, model=model_configs, train=train_configs)
def test_valid_configs_round_trip_through_json(data: DataConfig, model: ModelConfig,
                                               train: TrainConfig) -> None:
    config = RunConfig(data=data, model=model, train=train)
    text = json.dumps(config.to_dict())
    again = RunConfig.from_dict(json.loads(text))
    assert again == config
    assert again.to_dict() == config.to_dict()


@settings(max_examples=30, deadline=None)
@given(kernel_size=st.one_of(st.just("adaptive"), _odd), patch_size=_odd,
       attention=st.sampled_from(["eca_band", "eca_dual", "eca_band_conv"]))
def test_eca_configs_round_trip_through_json(kernel_size: int | str, patch_size: int,
                                             attention: str) -> None:
    config = RunConfig(model=ModelConfig(attention=attention, kernel_size=kernel_size,
                                         patch_size=patch_size))
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize("path", sorted(REPO.glob("experiments/results/**/config.json")),
                         ids=lambda p: str(p.parent.parent.name))
def test_committed_run_configs_still_load(path: Path) -> None:
    saved = json.loads(path.read_text(encoding="utf-8"))
    config = RunConfig.from_dict({k: saved[k] for k in ("data", "model", "train")})
    assert _saved_part(config.to_dict(), saved) == {k: saved[k] for k in ("data", "model", "train")}


def _saved_part(current: dict, saved: dict) -> dict:
    """The settings a saved config holds, as they load now (later settings take defaults)."""
    return {section: {k: current[section][k] for k in saved[section]}
            for section in ("data", "model", "train")}


@pytest.mark.parametrize("path", sorted(REPO.glob("experiments/results/*/runs.json")),
                         ids=lambda p: p.parent.name)
def test_committed_experiment_run_configs_still_load(path: Path) -> None:
    for run in json.loads(path.read_text(encoding="utf-8")):
        loaded = RunConfig.from_dict(run["config"]).to_dict()
        assert _saved_part(loaded, run["config"]) == {
            k: run["config"][k] for k in ("data", "model", "train")}


def test_a_config_written_for_an_in_memory_scene_loads() -> None:
    saved = RunConfig(data=DataConfig(scene="tiny", pca=None, train_size=0.3)).to_dict()
    assert RunConfig.from_dict(json.loads(json.dumps(saved))).data.scene == "tiny"


def test_the_default_names_are_registered_and_fit_together() -> None:
    """ModelConfig skips the registry import for its defaults; they must be valid."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ModelConfig()._check_names()


def test_building_configs_does_not_import_torch() -> None:
    code = ("import sys; from hsi_attn.config import RunConfig, TrainConfig, DataConfig; "
            "RunConfig(); TrainConfig(batch_size=8, device='cpu'); DataConfig(scene='x'); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO)
    assert out.stdout.strip() == "False"


def test_check_setting_checks_one_candidate_like_the_constructor() -> None:
    assert check_setting(ModelConfig, "kernel_size", "ADAPTIVE") == "adaptive"
    with pytest.raises(ValueError, match=r"reduction \(--reduction\) must be an integer >= 1"):
        check_setting(ModelConfig, "reduction", 0)


def test_the_guard_band_only_applies_to_the_disjoint_split() -> None:
    with pytest.warns(IgnoredSettingWarning, match=r"split_guard=5 \(--split-guard\) is ignored"
                                                   r".*only the disjoint split"):
        DataConfig(split_guard=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert DataConfig(split="disjoint", split_guard=5).split_guard == 5
    with pytest.raises(ValueError, match=r"split_guard \(--split-guard\)"):
        DataConfig(split="disjoint", split_guard=-1)
