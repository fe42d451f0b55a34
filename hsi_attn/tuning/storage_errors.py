"""Why an Optuna storage failed, in words that point at the actual cause.

SQLAlchemy reports every failure as an ``OperationalError`` or ``IntegrityError`` whose
text comes from the database driver. :data:`CAUSES` is a table from that text to a
cause and what to do about it, so that a local SQLite file that another process holds
locked, or two processes creating Optuna's tables at the same moment, is not reported
as a server that cannot be reached (and the other way round). The first matching row
wins; a failure no row matches gets the general advice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

__all__ = ["CAUSES", "StorageCause", "StorageError", "describe_storage_failure",
           "mask_password", "storage_errors"]


class StorageError(ValueError):
    """An Optuna storage cannot be opened or used; the message hides any password."""


def mask_password(url: str) -> str:
    """``url`` with its password replaced by ``***`` (``postgresql://user:***@host/db``)."""
    return re.sub(r"(//[^/@:]*:)[^@/]*@", r"\1***@", url)


@dataclass(frozen=True)
class StorageCause:
    """One row of :data:`CAUSES`.

    Attributes:
        pattern: Regular expression searched (case-insensitive) in the driver's message.
        backend: ``"sqlite"``, ``"server"`` (any other database) or ``"any"``.
        cause: What went wrong.
        advice: What to do next.
    """

    pattern: str
    backend: Literal["sqlite", "server", "any"]
    cause: str
    advice: str

    def matches(self, message: str, *, sqlite: bool) -> bool:
        """True when this row applies to ``message`` from an SQLite or a server storage."""
        if self.backend != "any" and (self.backend == "sqlite") != sqlite:
            return False
        return re.search(self.pattern, message, flags=re.IGNORECASE) is not None


_JOURNAL_HINT = ("several processes at once are better served by a journal file "
                 "(--storage journal:PATH, the default with --workers N) or a database server")

CAUSES: tuple[StorageCause, ...] = (
    StorageCause(
        r"database (table )?is locked", "sqlite",
        "another process kept the SQLite file locked for longer than the busy timeout "
        "(SQLite admits one writing process at a time)",
        "wait for the other command to finish and rerun, or raise the wait with "
        "?timeout=SECONDS on the URL; " + _JOURNAL_HINT),
    StorageCause(
        r"already exists|unique constraint failed: (alembic_version|version_info)", "sqlite",
        "another process created Optuna's tables in the same SQLite file at the same "
        "moment (hsi-attn processes take turns through the .lock file beside it, so the "
        "other one was a script or a tool such as optuna-dashboard)",
        "rerun the command: the tables are complete now; start such tools after the study"),
    StorageCause(
        r"already exists|(duplicate key|duplicate entry).*(alembic_version|version_info|"
        r"pg_type_typname_nsp_index)", "server",
        "another process created Optuna's tables in the same database at the same moment "
        "(commands started together on a new database race for this)",
        "rerun the command: the tables are complete now; on a new database, start one "
        "command first and the others once its first trial runs"),
    StorageCause(
        r"unable to open database file|readonly database|read-only", "sqlite",
        "the SQLite file cannot be opened for writing",
        "check that its folder exists and is writable (create it, or pick another --out "
        "or --storage)"),
    StorageCause(
        r"file is not a database|database disk image is malformed", "sqlite",
        "the file is not a readable SQLite database",
        "point --storage at the study's own study.db, or at a new file"),
    StorageCause(
        r"no longer compatible with the table schema", "any",
        "its tables were written by another Optuna version",
        "back it up and run optuna storage upgrade --url URL, or use the Optuna version "
        "that created it"),
    StorageCause(
        r"password authentication failed|access denied for user|no password supplied|"
        r"role \S+ does not exist", "server",
        "the database server refused the user or password",
        "check the user and password in the URL"),
    StorageCause(
        r"database \S+ does not exist|unknown database", "server",
        "the database named in the URL does not exist on the server",
        "create it (createdb NAME, or CREATE DATABASE NAME) and rerun"),
    StorageCause(
        r"no such table|relation \S+ does not exist|table \S+ doesn't exist", "any",
        "the database has no Optuna tables yet",
        "open it once with hsi-attn tune (or optuna.create_study), which creates them"),
    StorageCause(
        r"connection refused|could not translate host name|name or service not known|"
        r"temporary failure in name resolution|nodename nor servname|no route to host|"
        r"network is unreachable|timeout expired|timed out|can't connect to mysql server|"
        r"unknown mysql server host|server closed the connection", "server",
        "the database server cannot be reached",
        "check that the server is running and reachable from this machine (host, port, "
        "firewall, VPN)"),
)

_GENERAL_ADVICE = (
    "Check that the server is running and reachable from this machine (host, port, "
    "firewall), that the user and password are right, and that the database exists "
    "(createdb); for sqlite:/// check that the folder exists and is writable")


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _password(url: str) -> str | None:
    match = re.search(r"//[^/@:]*:([^@/]*)@", url)
    return match.group(1) if match and match.group(1) else None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes: Optuna wraps a failed commit in ``StorageInternalError``."""
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 8:
        chain.append(chain[-1].__cause__)
    return chain


def describe_storage_failure(exc: BaseException, url: str, *, doing: str = "open") -> str:
    """A one-line message naming why the storage at ``url`` failed and what to do.

    Args:
        exc: The exception raised by SQLAlchemy or the driver.
        url: The storage URL (its password never appears in the message).
        doing: What was attempted (``"open"``, ``"use"``), for the message.

    Returns:
        ``cannot <doing> the Optuna storage <url>: <cause> (<type>: <driver's first
        line>); <advice>``.
    """
    chain = _chain(exc)
    shown = next((e for e in chain if type(e).__module__.startswith("sqlalchemy")), exc)
    where = mask_password(url)
    reason = _first_line(shown).replace(url, where)
    password = _password(url)
    if password:
        reason = reason.replace(password, "***")
    detail = f"{type(shown).__name__}: {reason}"
    sqlite = url.startswith("sqlite")
    text = "\n".join(_first_line(e) for e in chain)  # not the SQL and its parameters
    for row in CAUSES:
        if row.matches(text, sqlite=sqlite):
            return (f"cannot {doing} the Optuna storage {where}: {row.cause} ({detail}); "
                    f"{row.advice}")
    return f"cannot {doing} the Optuna storage {where} ({detail}). {_GENERAL_ADVICE}"


@contextmanager
def storage_errors(url: str, *, doing: str = "use") -> Iterator[None]:
    """Turn database errors inside the block into a :class:`StorageError` naming the cause.

    SQLAlchemy's errors and Optuna's ``StorageInternalError`` (a failed commit) are
    turned; other exceptions (a failing trial, Ctrl-C) pass through unchanged.
    """
    import optuna
    import sqlalchemy.exc

    try:
        yield
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
        raise StorageError(describe_storage_failure(exc, url, doing=doing)) from None
