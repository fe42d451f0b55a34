"""Atomic file writes: a temporary file in the destination folder, then a rename.

A reader never sees a half-written file, and an interrupted write leaves the previous
version in place. The temporary file is created with the usual permissions (``0o666``
minus the umask), so the renamed file looks like any other file the user writes.

A process killed between the write and the rename (SIGKILL, power loss) leaves its
temporary file behind; :func:`remove_stale_temp_files` removes those of named files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "atomic_write",
    "remove_stale_temp_files",
    "save_npy_atomic",
    "temp_path",
    "write_json_atomic",
    "write_text_atomic",
]

logger = logging.getLogger(__name__)


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A fresh temporary name beside ``path``: ``.NAME.<pid>.<8 hex digits>.tmp``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a binary temporary file beside ``path``; on success rename it onto ``path``.

    On any exception (Ctrl-C included) the temporary file is removed and ``path`` is
    left as it was.
    """
    path = Path(path)
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path) as handle:
        handle.write(text.encode("utf-8"))
    return Path(path)


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    return write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def save_npy_atomic(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Save ``array`` in ``.npy`` format to ``path`` atomically."""
    with atomic_write(path) as handle:
        np.save(handle, np.asarray(array), allow_pickle=False)
    return Path(path)


def remove_stale_temp_files(folder: str | os.PathLike[str], names: Iterable[str]) -> list[Path]:
    """Remove temporary files that atomic writes of ``folder/NAME`` left behind.

    Only files named as :func:`temp_path` names them, for the given ``names``, are
    touched. On POSIX a file whose writer process is still alive (another process
    writing right now) is kept; this process's own are never in flight here.

    Args:
        folder: The folder the atomic writes went to.
        names: File names written there atomically (e.g. ``checkpoint.pt``).

    Returns:
        The files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    patterns = [re.compile(rf"\.{re.escape(name)}\.(\d+)\.[0-9a-f]{{8}}\.tmp") for name in names]
    removed = []
    for entry in sorted(folder.iterdir()):
        match = next((m for p in patterns if (m := p.fullmatch(entry.name))), None)
        if match is None or not entry.is_file() or _writer_alive(int(match.group(1))):
            continue
        entry.unlink(missing_ok=True)
        removed.append(entry)
        logger.info("removed %s, left by an interrupted write", entry)
    return removed


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OverflowError:
        return False
    return True
