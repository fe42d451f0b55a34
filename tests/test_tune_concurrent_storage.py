"""Processes that open one new SQLite study at the same moment take turns creating its tables.

Optuna creates its tables on first open by checking for each and then creating it; two
processes doing that at once used to fail with ``table ... already exists`` or
``UNIQUE constraint failed: alembic_version.version_num``. Here several processes wait
for a start signal and then open the same new files, and two ``run_study`` calls (two
``hsi-attn tune`` commands) start on one study directory together.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from hsi_attn.tuning.storage import StorageSpec

TESTS = Path(__file__).resolve().parent

_WAIT_FOR_START = """
import pathlib, sys, time
sys.path.insert(0, {tests!r})
{imports}
pathlib.Path({ready!r}).touch()
deadline = time.monotonic() + 600
while not pathlib.Path({go!r}).exists() and time.monotonic() < deadline:
    time.sleep(0.001)
"""

_OPEN_FILES = """
from hsi_attn.tuning.storage import StorageSpec
for k in range({files}):
    StorageSpec("rdb", f"sqlite:///{folder}/{{k}}.db").open()
"""

_RUN_STUDY = """
from test_tune_fixtures import tiny_base, tiny_scene
from hsi_attn.tuning import run_study
run_study(tiny_scene(), study_dir={folder!r}, base_config=tiny_base(epochs=1),
          study_name="together", n_trials=2, pruner="none", retrain=False)
"""


def _start_together(tmp_path: Path, imports: str, body: str, processes: int) -> list[str]:
    """Run ``processes`` children that import, wait for one signal, then run ``body``.

    Returns:
        The stderr of every child (each is asserted to have exited with status 0).
    """
    go = tmp_path / "go"
    children = []
    for i in range(processes):
        ready = tmp_path / f"ready-{i}"
        script = textwrap.dedent(_WAIT_FOR_START).format(
            tests=str(TESTS), imports=imports, ready=str(ready), go=str(go))
        children.append(subprocess.Popen([sys.executable, "-c", script + textwrap.dedent(body)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    deadline = time.monotonic() + 600
    while not all((tmp_path / f"ready-{i}").exists() for i in range(processes)):
        assert time.monotonic() < deadline, "the child processes did not start within 600 s"
        assert all(child.poll() is None for child in children), "a child process failed to start"
        time.sleep(0.01)
    go.touch()
    errors = [child.communicate(timeout=900)[1].decode() for child in children]
    for child, error in zip(children, errors):
        assert child.returncode == 0, error[-2000:]
    return errors


def test_processes_opening_new_sqlite_files_at_once_take_turns(tmp_path: Path) -> None:
    files = tmp_path / "studies"
    files.mkdir()
    _start_together(tmp_path, "import hsi_attn.tuning.storage",
                    _OPEN_FILES.format(files=6, folder=str(files)), processes=3)
    for k in range(6):
        study = optuna.create_study(storage=StorageSpec("rdb", f"sqlite:///{files}/{k}.db").open())
        assert study.trials == []  # complete tables: a study can be created and read


def test_two_tune_commands_start_on_one_new_sqlite_study(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    _start_together(tmp_path, "import hsi_attn.tuning.study, test_tune_fixtures",
                    _RUN_STUDY.format(folder=str(folder)), processes=2)
    trials = optuna.load_study(study_name="together",
                               storage=f"sqlite:///{folder}/study.db").trials
    states = [t.state for t in trials]
    assert states.count(TrialState.COMPLETE) >= 2
    assert TrialState.RUNNING not in states and TrialState.FAIL not in states
