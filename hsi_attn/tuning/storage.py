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

Optuna creates its tables the first time a process opens a database, by checking for
each table and then creating it; two processes doing that at once on a new SQLite file
fail (``table ... already exists``, ``UNIQUE constraint failed: alembic_version``). So
the process that creates them holds an exclusive lock on ``<file>.lock`` beside the
SQLite file (two ``hsi-attn tune`` commands take turns), and worker processes, started
after their parent made the tables, open the storage without creating any. Errors name
their cause (:mod:`hsi_attn.tuning.storage_errors`).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from hsi_attn.tuning.recovery import HEARTBEAT_INTERVAL_S, STALE_AFTER_S, requeue_trial
from hsi_attn.tuning.storage_errors import (StorageError, describe_storage_failure,
                                            mask_password, storage_errors)

try:
    import fcntl
except ImportError:  # Windows: no lock; a race there gets storage_errors' message
    fcntl = None  # type: ignore[assignment]

__all__ = ["SQLITE_BUSY_TIMEOUT_S", "StorageError", "StorageSpec", "mask_password",
           "resolve_storage", "sqlite_file"]

_JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")

SQLITE_BUSY_TIMEOUT_S = 60.0
"""Seconds an SQLite connection waits for another process's write lock (``?timeout=``
on the URL overrides it)."""


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

    def open(self, *, create_tables: bool = True) -> optuna.storages.BaseStorage:
        """Open the storage (each process calls this itself).

        Args:
            create_tables: Create Optuna's tables if the database has none (the first
                process of a study does; on SQLite it holds the lock file while it
                does). False for workers whose parent has created them: they open
                without taking the lock and without any schema write.

        Raises:
            StorageError: If it cannot be opened or reached; the message names the
                location (password hidden), the cause and what to do.
        """
        if self.kind == "journal":
            return _open_journal(Path(self.location))
        return _open_rdb(self.location, create_tables=create_tables)

    def errors(self) -> AbstractContextManager[None]:
        """A context manager turning database errors inside it into a :class:`StorageError`.

        The message names the cause: a locked SQLite file, tables being created by
        another process, a server that cannot be reached...
        """
        return storage_errors(self.location if self.kind == "rdb" else self.display)


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


def sqlite_file(url: str) -> Path | None:
    """The file of an ``sqlite:///`` URL; None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


@contextmanager
def _schema_lock(database: Path | None) -> Iterator[None]:
    """Hold an exclusive lock on ``<database>.lock`` while Optuna creates its tables.

    ``flock`` is released by the kernel when the process ends, so a killed process
    never leaves the lock taken. Without a file (another database), without ``fcntl``
    or in a folder that cannot be written (then SQLite fails with its own message),
    nothing is locked.
    """
    if database is None or fcntl is None:
        yield
        return
    try:
        handle = open(database.with_name(database.name + ".lock"), "ab")  # noqa: SIM115
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        # connect_args would override the URL's own ?timeout=, so set it only without one.
        if "timeout" in make_url(url).query:
            return {}
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
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


def _open_rdb(url: str, *, create_tables: bool) -> optuna.storages.BaseStorage:
    given = url
    url = _with_installed_driver(url)
    try:
        with _schema_lock(sqlite_file(url) if create_tables else None), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=_engine_kwargs(url),
                heartbeat_interval=HEARTBEAT_INTERVAL_S,
                grace_period=STALE_AFTER_S,
                heartbeat_stale_trial_callback=requeue_trial,
                skip_table_creation=not create_tables,
            )
    except ImportError as exc:
        raise StorageError(
            f"cannot open the storage {mask_password(given)}: its database driver is not "
            f"installed ({exc.__cause__ or exc}); for postgresql:// install psycopg2-binary "
            "or psycopg, for mysql:// PyMySQL"
        ) from None
    except Exception as exc:  # SQLAlchemy, alembic and Optuna raise many types here
        raise StorageError(describe_storage_failure(exc, given, doing="open")) from None
