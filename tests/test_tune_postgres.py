"""Two worker processes on one study in a real PostgreSQL server.

The server comes from ``HSI_ATTN_TEST_POSTGRES_URL`` (``.ci/run`` starts one and exports
it); when the variable is set the test must run, and a server it cannot reach fails it.
Without the variable the test starts a throwaway server itself with ``.ci/postgres.sh``
and stops it afterwards; it skips, saying why, only when no server can be started.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hsi_attn.tuning import run_study
from hsi_attn.tuning.recovery import WorkerIdentity
from hsi_attn.tuning.storage import StorageSpec

from test_tune_fixtures import tiny_base, tiny_scene

REPO = Path(__file__).resolve().parents[1]
URL_ENV = "HSI_ATTN_TEST_POSTGRES_URL"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    url = os.environ.get(URL_ENV)
    if url:
        yield url
        return
    if shutil.which("bash") is None:
        pytest.skip(f"{URL_ENV} is unset and bash is missing, so no PostgreSQL can be started")
    env = {**os.environ, "HSI_ATTN_TEST_POSTGRES_PORT": str(_free_port())}
    started = subprocess.run(["bash", str(REPO / ".ci" / "postgres.sh")], env=env,
                             capture_output=True, text=True, timeout=600)
    fields = started.stdout.split()
    if len(fields) < 2:
        pytest.skip(f"{URL_ENV} is unset and no PostgreSQL server could be started here "
                    f"(.ci/postgres.sh: {started.stderr.strip()[-300:] or 'no output'})")
    url, data_dir = fields[0], fields[1]
    try:
        yield url
    finally:
        pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        command = [str(pg_ctl[-1]) if pg_ctl else "pg_ctl", "-D", data_dir, "stop", "-m", "fast"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, capture_output=True, timeout=60, check=False)
        shutil.rmtree(Path(data_dir).parent, ignore_errors=True)


def test_two_workers_on_one_postgres_study(postgres_url: str, tmp_path: Path) -> None:
    name = f"pg-{uuid.uuid4().hex[:8]}"
    result = run_study(
        tiny_scene(), study_dir=tmp_path, base_config=tiny_base(epochs=2), study_name=name,
        attentions=["eca_band", "se_band"], storage=postgres_url, n_trials=4, pruner="none",
        sampler="random", workers=2, retrain=False,
    )
    assert "postgresql://" in result.storage
    assert not (tmp_path / "study.db").exists() and not (tmp_path / "journal.log").exists()
    trials = optuna.load_study(study_name=name,
                               storage=StorageSpec("rdb", postgres_url).open()).trials
    assert [t.number for t in trials] == list(range(len(trials)))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert 4 <= len(trials) <= 5
    owners = {WorkerIdentity.decode(t.user_attrs["worker"]).pid for t in trials}
    assert len(owners) == 2
    assert len({t.params["lr"] for t in trials}) == len(trials)
    assert (tmp_path / "best_params.json").is_file() and (tmp_path / "trials.csv").is_file()
