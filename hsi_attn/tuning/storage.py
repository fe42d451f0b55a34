"""Where a study lives: an SQLite file, a journal file, or a database server.

A :class:`StorageSpec` is a small picklable description; every worker process opens its
own storage from it (storage objects hold connections and locks and do not cross
processes).

* Default, one process: ``sqlite:///<study_dir>/study.db`` (embedded, zero setup).
* Default, several processes: ``<study_dir>/journal.log`` through Optuna's
  ``JournalStorage``, which appends under a file lock instead of fighting over SQLite's
  single writer.
* ``--storage URL``: any SQLAlchemy URL Optuna accepts (``postgresql://``, ``mysql://``,
  ``sqlite:///``) for several machines, or ``journal:PATH`` (also a bare path ending in
  ``.log``) for a journal file on a shared filesystem.

Database storages get Optuna's heartbeat: a killed worker's trial is failed after the
grace period by any live worker and re-queued (see :mod:`hsi_attn.tuning.recovery`).
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from hsi_attn.tuning.recovery import HEARTBEAT_INTERVAL_S, STALE_AFTER_S, requeue_trial

__all__ = ["StorageError", "StorageSpec", "mask_password", "resolve_storage"]

_JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")


class StorageError(ValueError):
    """An Optuna storage cannot be opened; the message hides any password."""


def mask_password(url: str) -> str:
    """``url`` with its password replaced by ``***`` (``postgresql://user:***@host/db``)."""
    return re.sub(r"(//[^/@:]*:)[^@/]*@", r"\1***@", url)


@dataclass(frozen=True)
class StorageSpec:
    """Where a study lives.

    Attributes:
        kind: ``"rdb"`` (an SQLAlchemy URL) or ``"journal"`` (a journal file path).
        location: The URL or the file path.
    """

    kind: str
    location: str

    @property
    def display(self) -> str:
        """The location with any password hidden, for messages and result files."""
        return mask_password(self.location) if self.kind == "rdb" else f"journal:{self.location}"

    def open(self) -> optuna.storages.BaseStorage:
        """Open the storage (each process calls this itself).

        Raises:
            StorageError: If it cannot be opened or reached; the message names the
                location (password hidden) and what to check.
        """
        if self.kind == "journal":
            return _open_journal(Path(self.location))
        return _open_rdb(self.location)


def resolve_storage(storage: str | None, study_dir: Path, *, workers: int) -> StorageSpec:
    """Turn the ``--storage`` option into a :class:`StorageSpec`.

    Args:
        storage: A URL, ``journal:PATH``, a ``.log`` path, or None for the default.
        study_dir: The study's output directory (holds the default storage).
        workers: Worker processes on this machine; more than one with the default storage
            selects the journal file, because SQLite admits one writer at a time.

    Raises:
        StorageError: On an unrecognised storage string, or several workers on an
            existing default SQLite study.
    """
    if storage is None:
        journal, sqlite = study_dir / "journal.log", study_dir / "study.db"
        if journal.exists():
            return StorageSpec("journal", str(journal))
        if workers > 1 and sqlite.exists():
            raise StorageError(
                f"{str(sqlite)!r} holds this study in SQLite, which admits one writing process; "
                f"rerun with --workers 1 to continue it, or start a new --out for {workers} "
                "workers (they use a journal file there)"
            )
        if workers > 1:
            return StorageSpec("journal", str(journal))
        return StorageSpec("rdb", f"sqlite:///{sqlite.resolve()}")
    text = storage.strip()
    if text.startswith("journal:"):
        path = text[len("journal:"):]
        path = path[2:] if path.startswith("//") else path
        if not path:
            raise StorageError("journal storage needs a file: journal:PATH, e.g. journal:study/journal.log")
        return StorageSpec("journal", path)
    if "://" in text:
        return StorageSpec("rdb", text)
    if text.endswith(_JOURNAL_SUFFIXES):
        return StorageSpec("journal", text)
    raise StorageError(
        f"storage {mask_password(text)!r} is not recognised. Accepted: an SQLAlchemy URL "
        "(postgresql://user:password@host:5432/db, mysql://..., sqlite:///file.db), "
        "journal:PATH or a file ending in .log for a journal file"
    )


def _open_journal(path: Path) -> optuna.storages.BaseStorage:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if not path.parent.is_dir():
        raise StorageError(
            f"cannot open the journal storage journal:{path}: folder {str(path.parent)!r} "
            "does not exist; create it, or check the path (on several machines it must be "
            "on a filesystem they all mount)"
        )
    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise StorageError(
            f"cannot open the journal storage journal:{path} ({exc.strerror or exc}); check "
            "that the file is writable"
        ) from None


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    if url.startswith("mysql"):
        return {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    return {}


def _with_installed_driver(url: str) -> str:
    """``postgresql://`` with the psycopg2 driver when psycopg 3 (SQLAlchemy 2.1's default
    for that scheme) is not installed but psycopg2 is."""
    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def _open_rdb(url: str) -> optuna.storages.BaseStorage:
    shown = mask_password(url)
    url = _with_installed_driver(url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=_engine_kwargs(url),
                heartbeat_interval=HEARTBEAT_INTERVAL_S,
                grace_period=STALE_AFTER_S,
                heartbeat_stale_trial_callback=requeue_trial,
            )
    except ImportError as exc:
        raise StorageError(
            f"cannot open the storage {shown}: its database driver is not installed "
            f"({exc.__cause__ or exc}); for postgresql:// install psycopg2-binary or psycopg, for mysql:// PyMySQL"
        ) from None
    except Exception as exc:  # SQLAlchemy raises many types; all mean "cannot open"
        reason = _first_line(exc).replace(url, shown)
        password = _password(url)
        if password:
            reason = reason.replace(password, "***")
        raise StorageError(
            f"cannot open the Optuna storage {shown} ({type(exc).__name__}: {reason}). "
            "Check that the server is running and reachable from this machine (host, port, "
            "firewall), that the user and password are right, and that the database exists "
            "(createdb); for sqlite:/// check that the folder exists and is writable"
        ) from None


def _password(url: str) -> str | None:
    match = re.search(r"//[^/@:]*:([^@/]*)@", url)
    return match.group(1) if match and match.group(1) else None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__

