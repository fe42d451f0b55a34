"""Bad input to the tuner gets an error naming the value, the accepted ones and what to do."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import optuna
import pytest
import sqlalchemy.exc

from hsi_attn.cli.tune import add_arguments as add_tune_arguments
from hsi_attn.cli.tune import run_tune_command
from hsi_attn.tuning import StorageError, mask_password, run_study
from hsi_attn.tuning.storage import StorageSpec, resolve_storage

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


def test_self_training_is_refused_before_the_study_starts(tmp_path: Path) -> None:
    import dataclasses

    base = tiny_base()
    base = dataclasses.replace(base, train=dataclasses.replace(base.train,
                                                               self_training_rounds=1))
    with pytest.raises(ValueError, match="self_training_rounds=1.*--self-training-rounds 0"):
        run_study(tiny_scene(), study_dir=tmp_path / "s", base_config=base)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("url", [
    "postgresql://tuner:s3cret-pw@127.0.0.1:1/hsi",  # nothing listens on port 1
    "postgresql://tuner:s3cret-pw@no-such-host.invalid:5432/hsi",  # no DNS name (RFC 6761)
])
def test_unreachable_server_is_named_as_such_without_its_password(tmp_path: Path,
                                                                   url: str) -> None:
    with pytest.raises(StorageError) as caught:
        run_study(tiny_scene(), study_dir=tmp_path / "s", base_config=tiny_base(), storage=url)
    message = str(caught.value)
    assert mask_password(url) in message and "s3cret-pw" not in message
    assert "the database server cannot be reached" in message
    assert "check that the server is running and reachable" in message
    assert "SQLite" not in message and "\n" not in message


def test_a_locked_sqlite_file_is_named_as_sqlite_concurrency(tmp_path: Path) -> None:
    path = tmp_path / "study.db"
    StorageSpec("rdb", f"sqlite:///{path}").open()  # the tables exist
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, for longer than the wait
    try:
        with pytest.raises(StorageError) as caught:
            run_study(tiny_scene(), study_dir=tmp_path, base_config=tiny_base(),
                      storage=f"sqlite:///{path}?timeout=0.1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    message = str(caught.value)
    assert "another process kept the SQLite file locked" in message
    assert "database is locked" in message and "journal:PATH" in message
    assert "server" not in message.split("; ")[0] and "firewall" not in message


def test_sqlite_storage_in_a_missing_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/folder/study.db"
    with pytest.raises(StorageError, match="cannot open the Optuna storage sqlite:///.*cannot be "
                                           "opened for writing.*folder exists"):
        run_study(tiny_scene(), study_dir=tmp_path / "s", base_config=tiny_base(), storage=url)


def test_a_worker_opening_a_storage_without_tables_is_told_so(tmp_path: Path) -> None:
    spec = StorageSpec("rdb", f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(StorageError, match="has no Optuna tables yet.*creates them"):
        spec.open(create_tables=False)


def _driver_error(kind: type[sqlalchemy.exc.DBAPIError], text: str) -> Exception:
    return kind("CREATE TABLE trials (...)", {}, Exception(text))


def _commit_error(text: str) -> Exception:
    # Optuna wraps a failed commit in StorageInternalError, the driver's error as its cause.
    error = optuna.exceptions.StorageInternalError("An exception is raised during the commit.")
    error.__cause__ = _driver_error(sqlalchemy.exc.OperationalError, text)
    return error


SQLITE, SERVER = "sqlite:////tmp/study.db", "postgresql://u:pw@db.example:5432/hsi"


@pytest.mark.parametrize(("url", "error", "cause", "advice"), [
    (SQLITE, _driver_error(sqlalchemy.exc.OperationalError, "table trials already exists"),
     "created Optuna's tables in the same SQLite file at the same moment", "rerun the command"),
    (SQLITE, _driver_error(sqlalchemy.exc.IntegrityError,
                           "UNIQUE constraint failed: alembic_version.version_num"),
     "created Optuna's tables in the same SQLite file", "rerun the command"),
    (SQLITE, _commit_error("database is locked"),
     "another process kept the SQLite file locked", "journal file"),
    (SQLITE, _driver_error(sqlalchemy.exc.DatabaseError, "file is not a database"),
     "not a readable SQLite database", "study's own study.db"),
    (SERVER, _driver_error(sqlalchemy.exc.IntegrityError, 'duplicate key value violates '
                           'unique constraint "alembic_version_pkc"'),
     "created Optuna's tables in the same database", "start one command first"),
    (SERVER, _driver_error(sqlalchemy.exc.OperationalError, 'connection to server at "db", '
                           'port 5432 failed: FATAL:  password authentication failed for user'),
     "refused the user or password", "check the user and password"),
    (SERVER, _driver_error(sqlalchemy.exc.OperationalError, 'connection to server at "db", '
                           'port 5432 failed: FATAL:  database "hsi" does not exist'),
     "does not exist on the server", "createdb"),
    (SERVER, _driver_error(sqlalchemy.exc.OperationalError, "connection to server at \"db\", "
                           "port 5432 failed: timeout expired"),
     "the database server cannot be reached", "firewall"),
])
def test_storage_errors_name_their_cause(url: str, error: Exception, cause: str,
                                         advice: str) -> None:
    storage = resolve_storage(url, Path("."), workers=1)
    with pytest.raises(StorageError) as caught, storage.errors():
        raise error
    message = str(caught.value)
    assert message.startswith(f"cannot use the Optuna storage {mask_password(url)}: ")
    assert cause in message and advice in message
    assert ":pw@" not in message and "\n" not in message
    if url.startswith("sqlite"):  # a local file is not blamed on a network
        assert "cannot be reached" not in message and "firewall" not in message
    else:
        assert "SQLite" not in message


def test_other_exceptions_pass_through_the_storage_errors_block() -> None:
    with pytest.raises(KeyboardInterrupt), StorageSpec("rdb", SQLITE).errors():
        raise KeyboardInterrupt


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
