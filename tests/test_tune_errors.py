"""Bad input to the tuner gets an error naming the value, the accepted ones and what to do."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from hsi_attn.cli.tune import add_arguments as add_tune_arguments
from hsi_attn.cli.tune import run_tune_command
from hsi_attn.tuning import StorageError, mask_password, run_study
from hsi_attn.tuning.storage import resolve_storage

from test_tune_fixtures import tiny_base, tiny_scene


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hsi-attn tune")
    add_tune_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(("option", "value", "pattern"), [
    ("pruner", "medain", r"unknown pruner 'medain'\. Did you mean 'median'\?.*Accepted names: "
                         r"hyperband, median, none"),
    ("sampler", "cmaes", r"unknown sampler 'cmaes'.*Accepted names: random, tpe"),
])
def test_unknown_pruner_or_sampler(tmp_path: Path, option: str, value: str, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        run_study(tiny_scene(), study_dir=tmp_path / "s", base_config=tiny_base(),
                  **{option: value})
    assert not (tmp_path / "s").exists()  # rejected before anything is created


@pytest.mark.parametrize("n_trials", [0, -3])
def test_n_trials_below_one(tmp_path: Path, n_trials: int) -> None:
    with pytest.raises(ValueError, match=rf"n_trials must be an integer >= 1, got {n_trials}"):
        run_study(tiny_scene(), study_dir=tmp_path / "s", base_config=tiny_base(),
                  n_trials=n_trials)


def test_cli_reports_the_same_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_trials must be an integer >= 1, got 0"):
        run_tune_command(_parse(["--n-trials", "0", "--out", str(tmp_path / "s")]))
    with pytest.raises(ValueError, match="unknown pruner 'sha'"):
        run_tune_command(_parse(["--pruner", "sha", "--out", str(tmp_path / "s")]))
    bad = tmp_path / "space.toml"
    bad.write_text("kernel = [3]\n")
    with pytest.raises(ValueError, match="unknown key 'kernel'.*Did you mean 'kernel_size'"):
        run_tune_command(_parse(["--search-space", str(bad), "--out", str(tmp_path / "s")]))


def test_unknown_attention_or_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown attention 'eca_bnad'.*Did you mean 'eca_band'"):
        run_study(tiny_scene(), study_dir=tmp_path / "s", base_config=tiny_base(),
                  attentions=["eca_bnad"])


def test_unreachable_storage_names_the_url_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://tuner:s3cret-pw@127.0.0.1:1/hsi"
    with pytest.raises(StorageError) as caught:
        run_study(tiny_scene(), study_dir=tmp_path / "s", base_config=tiny_base(), storage=url)
    message = str(caught.value)
    assert "postgresql://tuner:***@127.0.0.1:1/hsi" in message
    assert "s3cret-pw" not in message
    assert "server is running and reachable" in message
    assert "database exists" in message


def test_sqlite_storage_in_a_missing_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/folder/study.db"
    with pytest.raises(StorageError, match="cannot open the Optuna storage sqlite:///.*folder "
                                           "exists"):
        run_study(tiny_scene(), study_dir=tmp_path / "s", base_config=tiny_base(), storage=url)


def test_unrecognised_storage_string(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"storage 'study\.database' is not recognised.*"
                                           r"journal:PATH"):
        resolve_storage("study.database", tmp_path, workers=1)
    with pytest.raises(StorageError, match="folder .* does not exist"):
        resolve_storage(f"journal:{tmp_path}/missing/j.log", tmp_path, workers=1).open()


def test_mask_password() -> None:
    assert mask_password("postgresql://u:p@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert mask_password("postgresql+psycopg2://u:p%40ss@h/d") == "postgresql+psycopg2://u:***@h/d"
    assert mask_password("postgresql://u@h/d") == "postgresql://u@h/d"
    assert mask_password("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_several_workers_on_an_existing_sqlite_study(tmp_path: Path) -> None:
    (tmp_path / "study.db").write_bytes(b"")
    with pytest.raises(StorageError, match="rerun with --workers 1"):
        resolve_storage(None, tmp_path, workers=2)
    assert resolve_storage(None, tmp_path, workers=1).location.endswith("study.db")


def test_resuming_with_other_settings_is_refused(tmp_path: Path) -> None:
    run_study(tiny_scene(), study_dir=tmp_path, base_config=tiny_base(epochs=1), n_trials=1,
              pruner="none", retrain=False, study_name="s")
    with pytest.raises(ValueError, match=r"created with other settings \(base_config\.train\."
                                         r"epochs: 1 -> 2\).*another --study-name"):
        run_study(tiny_scene(), study_dir=tmp_path, base_config=tiny_base(epochs=2), n_trials=1,
                  pruner="none", retrain=False, study_name="s")


def test_resuming_on_another_device_is_allowed(tmp_path: Path) -> None:
    import dataclasses

    base = tiny_base(epochs=1)
    run_study(tiny_scene(), study_dir=tmp_path, base_config=base, n_trials=1, pruner="none",
              retrain=False, study_name="s")
    faster = dataclasses.replace(base, train=dataclasses.replace(base.train, device="auto",
                                                                 eval_batch_size=64))
    result = run_study(tiny_scene(), study_dir=tmp_path, base_config=faster, n_trials=2,
                       pruner="none", retrain=False, study_name="s")
    assert result.counts["COMPLETE"] == 2
