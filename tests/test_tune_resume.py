"""A study killed mid-trial (SIGKILL) resumes to its trial count; finished trials are intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hsi_attn.tuning import run_study
from hsi_attn.tuning.recovery import WorkerIdentity, recover_stale_trials
from hsi_attn.tuning.storage import StorageSpec

from test_tune_fixtures import tiny_base, tiny_scene

TESTS = Path(__file__).resolve().parent
EPOCHS = 12
N_TRIALS = 3

_CHILD = """
import sys
sys.path.insert(0, {tests!r})
from test_tune_fixtures import tiny_base, tiny_scene
from hsi_attn.tuning import run_study
run_study(tiny_scene(), study_dir={out!r}, base_config=tiny_base(epochs={epochs}),
          study_name="killed", n_trials={n}, pruner="none", retrain=False)
"""


def _snapshot(trial: optuna.trial.FrozenTrial) -> tuple:
    return (trial.number, trial.state, trial.value, trial.params, trial.datetime_start,
            trial.datetime_complete, trial.intermediate_values)


def test_sigkill_mid_trial_then_resume(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path}/study.db"
    script = _CHILD.format(tests=str(TESTS), out=str(tmp_path), epochs=EPOCHS, n=N_TRIALS)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600  # a guard against a hang, not a timing (loaded CI)
    done: list[optuna.trial.FrozenTrial] = []
    try:
        # Opened while the child opens it too: whichever comes first creates the tables,
        # the other waits for it (the lock file beside the SQLite file).
        watched = StorageSpec("rdb", storage).open()
        while True:
            assert child.poll() is None, f"the study ended before it could be killed: {child.stderr.read().decode()[-2000:]}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no trial completed within 600 s"
            try:
                trials = optuna.load_study(study_name="killed", storage=watched).trials
            except KeyError:  # the child has not created the study yet
                trials = []
            done = [t for t in trials if t.state == TrialState.COMPLETE]
            running = [t for t in trials if t.state == TrialState.RUNNING
                       and t.intermediate_values]
            if done and running:
                break
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    before = optuna.load_study(study_name="killed", storage=storage).trials
    interrupted = [t for t in before if t.state == TrialState.RUNNING]
    assert len(interrupted) == 1  # the kill left the trial RUNNING in the storage
    completed = [_snapshot(t) for t in before if t.state == TrialState.COMPLETE]
    assert len(completed) >= 1

    run_study(tiny_scene(), study_dir=tmp_path, base_config=tiny_base(epochs=EPOCHS),
              study_name="killed", n_trials=N_TRIALS, pruner="none", retrain=False)

    after = optuna.load_study(study_name="killed", storage=storage).trials
    by_number = {t.number: t for t in after}
    for snapshot in completed:  # finished trials are untouched
        assert _snapshot(by_number[snapshot[0]]) == snapshot
    killed = by_number[interrupted[0].number]
    assert killed.state == TrialState.FAIL
    retries = [t for t in after if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1
    assert retries[0].state == TrialState.COMPLETE
    assert retries[0].params == killed.params  # the interrupted parameters are re-run
    finished = [t for t in after if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == N_TRIALS
    assert not [t for t in after if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    rows = (tmp_path / "trials.csv").read_text()
    assert f",{killed.number}," in rows  # retry_of column names the killed trial


def test_a_live_workers_trial_is_not_taken_for_stale(tmp_path: Path) -> None:
    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/s.db")
    trial = study.ask()
    trial.set_user_attr("worker", WorkerIdentity.current().encode())
    assert recover_stale_trials(study, use_heartbeat=True) == []
    assert study.trials[0].state == TrialState.RUNNING


def test_a_dead_local_worker_or_an_old_heartbeat_is_stale(tmp_path: Path) -> None:
    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/s.db")
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    me = WorkerIdentity.current()
    dead = WorkerIdentity(me.host, me.boot_id, int(finished.stdout), "1")
    elsewhere = WorkerIdentity("another-machine", "x", 1, "1")
    first = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    first.set_user_attr("worker", dead.encode())
    second = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    second.set_user_attr("worker", elsewhere.encode())
    second.set_user_attr("heartbeat", time.time() - 3600)
    third = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    third.set_user_attr("worker", elsewhere.encode())
    third.set_user_attr("heartbeat", time.time())
    # Database storages judge other machines by Optuna's own heartbeat, not ours.
    assert recover_stale_trials(study, use_heartbeat=False) == [0]
    assert recover_stale_trials(study, use_heartbeat=True) == [1]
    states = [t.state for t in study.trials]
    assert states[:3] == [TrialState.FAIL, TrialState.FAIL, TrialState.RUNNING]
    waiting = [t for t in study.trials if t.state == TrialState.WAITING]
    assert [t.params for t in waiting] == [first.params, second.params]
    assert [t.system_attrs["failed_trial"] for t in waiting] == [0, 1]
    assert all("worker" not in t.user_attrs for t in waiting)  # not the dead owner's identity
    assert recover_stale_trials(study, use_heartbeat=True) == []  # nothing twice


@pytest.mark.parametrize("text", ["", "host|boot|notapid|1", 42, None])
def test_worker_identity_ignores_foreign_values(text: object) -> None:
    assert WorkerIdentity.decode(text) is None


def test_ctrl_c_fails_the_trial_and_resuming_retries_it(tmp_path: Path) -> None:
    from hsi_attn.engine import Callback
    from hsi_attn.tuning import Objective, SearchSpace

    class CtrlC(Callback):
        def on_epoch_end(self, state):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt

    study = optuna.create_study(storage=f"sqlite:///{tmp_path}/s.db", direction="maximize",
                                study_name="interrupted")
    objective = Objective(tiny_scene(), tiny_base(epochs=2), SearchSpace(), callbacks=[CtrlC()])
    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=1)
    stopped = study.trials[0]
    assert stopped.state == TrialState.FAIL and stopped.user_attrs["interrupted"] is True

    run_study(tiny_scene(), study_dir=tmp_path, base_config=tiny_base(epochs=2),
              storage=f"sqlite:///{tmp_path}/s.db", study_name="interrupted", n_trials=1,
              pruner="none", retrain=False)
    trials = optuna.load_study(study_name="interrupted", storage=f"sqlite:///{tmp_path}/s.db").trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].params == stopped.params
    assert trials[1].system_attrs["failed_trial"] == 0
