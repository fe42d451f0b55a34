"""Starting a run in its directory, so that a failed start leaves nothing behind.

:func:`started_run` is entered only once the data are prepared and the model is built
(the checks that fail most often have passed by then). It creates the directory,
replaces the old run's files for ``overwrite``, writes ``config.json`` for a new run and
removes temporary files that a killed run left. If training then fails with an error
before its first epoch is done, it removes what this attempt created, so the corrected
rerun with the same ``--out`` needs no ``--overwrite``; files that were there before
are never touched. Ctrl-C is not a failure: the run stays resumable.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hsi_attn.engine import Callback, TrainState
from hsi_attn.engine.atomic import remove_stale_temp_files, write_json_atomic
from hsi_attn.run.directory import RUN_FILES

__all__ = ["FirstEpoch", "remove_run_temp_files", "started_run"]

logger = logging.getLogger(__name__)


class FirstEpoch(Callback):
    """Notes when the first epoch (of this attempt) has finished and been checkpointed."""

    order = 55  # after Checkpoint (50): the epoch is on disk

    def __init__(self) -> None:
        self.done = False

    def on_epoch_end(self, state: TrainState) -> None:
        self.done = True


def remove_run_temp_files(run_dir: Path) -> None:
    """Remove temporary files of the run directory's own atomic writes, left by a kill."""
    remove_stale_temp_files(run_dir, RUN_FILES)


@contextlib.contextmanager
def started_run(out: Path, record: dict[str, Any], *, resume: bool,
                overwrite: bool) -> Iterator[FirstEpoch]:
    """Open ``out`` for one attempt at a run; undo the attempt if it fails at its start.

    Args:
        out: The run directory, already checked by
            :func:`~hsi_attn.run.directory.check_out_dir`.
        record: The content of ``config.json`` (written unless ``resume``).
        resume: Continue the run in ``out``: nothing is written or undone here.
        overwrite: Remove the old run's files (only :data:`RUN_FILES`) first.

    Yields:
        A :class:`FirstEpoch` callback to pass to training; an error (not Ctrl-C)
        raised before it has seen an epoch end undoes this attempt.
    """
    first_epoch = FirstEpoch()
    if resume:
        remove_run_temp_files(out)
        yield first_epoch
        return
    created = _first_missing(out)
    if overwrite:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        remove_run_temp_files(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        write_json_atomic(out / "config.json", record)
        yield first_epoch
    except Exception:
        if not first_epoch.done:
            _undo(out, created)
        raise


def _first_missing(out: Path) -> Path | None:
    """The outermost folder of ``out``'s path that does not exist yet (None if none)."""
    missing = None
    for folder in (out, *out.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def _undo(out: Path, created: Path | None) -> None:
    """Remove this attempt's run files, and the folders it created if now empty."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    remove_run_temp_files(out)
    if created is None:
        logger.info("removed the files of the failed start from %s", out)
        return
    for folder in (out, *out.parents):
        try:
            folder.rmdir()
        except OSError:  # not empty: something else is in it
            break
        if folder == created:
            break
    logger.info("removed %s, created by the failed start", created)
