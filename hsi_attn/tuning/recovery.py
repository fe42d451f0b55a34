"""Surviving killed workers: find trials left RUNNING by a dead process, fail and retry them.

A worker killed mid-trial (SIGKILL, OOM killer, a lost machine) cannot tell the storage
that its trial ended, so the trial stays RUNNING forever and its parameters are never
evaluated. Completed trials are already safe in the storage; only the interrupted one
needs repair. Each trial records its owner (host, boot id, pid and the process start
time) in the user attribute ``worker``, and a wall-clock ``heartbeat``. A RUNNING trial
is stale when

* its owner ran on this machine and that process no longer exists (checked at once,
  so re-running the command after a kill resumes immediately), or
* on a journal storage, its heartbeat is older than :data:`STALE_AFTER_S` (owners on
  other machines; the clocks must be roughly in sync, as NTP keeps them).

Database storages use Optuna's own heartbeat for the second case
(``RDBStorage(heartbeat_interval, grace_period, heartbeat_stale_trial_callback)``), with
:func:`requeue_trial` as the callback. A stale trial is marked FAIL and its parameters
are enqueued again as a WAITING trial, which the next worker picks up first. A trial
stopped by Ctrl-C is marked FAIL by Optuna itself; the objective flags it
``interrupted`` so that it is re-queued the same way on the next run.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "HEARTBEAT_INTERVAL_S",
    "MAX_RETRIES",
    "STALE_AFTER_S",
    "WorkerIdentity",
    "recover_stale_trials",
    "requeue_trial",
]

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 30
"""Seconds between heartbeats of a running trial."""

STALE_AFTER_S = 300
"""A trial whose last heartbeat is older than this is considered dead."""

MAX_RETRIES = 3
"""How often the parameters of a repeatedly killed trial are retried."""

OWNER_ATTR = "worker"
HEARTBEAT_ATTR = "heartbeat"
INTERRUPTED_ATTR = "interrupted"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> str:
    # Field 22 of /proc/<pid>/stat: start time since boot; tells a reused pid apart.
    stat = _read(f"/proc/{pid}/stat")
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class WorkerIdentity:
    """Which process runs a trial.

    Attributes:
        host: Host name.
        boot_id: Linux boot id (empty elsewhere); a reboot makes every old pid dead.
        pid: Process id.
        start_ticks: Process start time from ``/proc`` (empty where unavailable).
    """

    host: str
    boot_id: str
    pid: int
    start_ticks: str

    @classmethod
    def current(cls) -> WorkerIdentity:
        """The identity of the calling process."""
        pid = os.getpid()
        return cls(socket.gethostname(), _read("/proc/sys/kernel/random/boot_id"), pid,
                   _start_ticks(pid))

    def encode(self) -> str:
        """``host|boot_id|pid|start_ticks``, stored as the trial's ``worker`` attribute."""
        return f"{self.host}|{self.boot_id}|{self.pid}|{self.start_ticks}"

    @classmethod
    def decode(cls, text: object) -> WorkerIdentity | None:
        """Parse :meth:`encode` output; None for anything else."""
        if not isinstance(text, str) or text.count("|") != 3:
            return None
        host, boot_id, pid, ticks = text.split("|")
        return cls(host, boot_id, int(pid), ticks) if pid.isdigit() else None

    def is_dead_here(self) -> bool:
        """True when this identity is a process of this machine that no longer runs.

        False when it runs, or when it belongs to another machine (cannot tell here).
        """
        me = WorkerIdentity.current()
        if self.host != me.host or self.boot_id != me.boot_id:
            # Same host name after a reboot: every process of the old boot is gone.
            return self.host == me.host and bool(self.boot_id) and bool(me.boot_id)
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # exists, owned by another user
        return bool(self.start_ticks) and _start_ticks(self.pid) not in ("", self.start_ticks)


def requeue_trial(study: optuna.Study, trial: FrozenTrial) -> None:
    """Enqueue the parameters of the failed ``trial`` again, as a WAITING trial.

    The new trial carries ``failed_trial`` (the first attempt's number) and
    ``retry_history`` in its system attributes, like Optuna's
    ``RetryHeartbeatStaleTrialCallback``, but not the dead owner's user attributes.
    Nothing is enqueued after :data:`MAX_RETRIES` attempts or when another worker has
    already re-queued this trial.
    """
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > MAX_RETRIES:
        logger.warning("trial %d was interrupted %d times; not retrying its parameters again",
                       history[0], len(history))
        return
    for other in study.get_trials(deepcopy=False):
        if trial.number in other.system_attrs.get("retry_history", []):
            return
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        system_attrs={"failed_trial": history[0], "retry_history": history},
    ))
    logger.info("re-queued the parameters of interrupted trial %d", trial.number)


def _stale_reason(trial: FrozenTrial, *, use_heartbeat: bool, stale_after: float,
                  now: float) -> str | None:
    owner = WorkerIdentity.decode(trial.user_attrs.get(OWNER_ATTR))
    if owner is not None and owner.is_dead_here():
        return f"its worker process {owner.pid} on {owner.host} has exited"
    if not use_heartbeat:
        return None
    beat = trial.user_attrs.get(HEARTBEAT_ATTR)
    if not isinstance(beat, (int, float)):
        started = trial.datetime_start
        beat = started.timestamp() if started is not None else None
    if beat is not None and now - beat > stale_after:
        return f"no heartbeat for {now - beat:.0f} s (limit {stale_after:.0f} s)"
    return None


def recover_stale_trials(
    study: optuna.Study, *, use_heartbeat: bool, stale_after: float = STALE_AFTER_S,
) -> list[int]:
    """Fail the study's stale RUNNING trials and re-queue their parameters.

    Trials that Ctrl-C stopped (FAIL, flagged ``interrupted``) are re-queued too.

    Args:
        study: The study.
        use_heartbeat: Also judge trials of other machines by their ``heartbeat``
            attribute (journal storages; database storages have Optuna's heartbeat).
        stale_after: Heartbeat age in seconds beyond which a trial is dead.

    Returns:
        The numbers of the trials that were failed.
    """
    failed: list[int] = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if trial.user_attrs.get(INTERRUPTED_ATTR):
            requeue_trial(study, trial)  # once: requeue_trial skips trials already re-queued
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = _stale_reason(trial, use_heartbeat=use_heartbeat, stale_after=stale_after,
                               now=now)
        if reason is None:
            continue
        try:
            frozen = study.tell(trial.number, state=TrialState.FAIL)
        except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another worker got there first
        logger.warning("trial %d was interrupted (%s); marked FAIL", trial.number, reason)
        failed.append(trial.number)
        requeue_trial(study, frozen)
    return failed
