"""Errors raised by the data layer.

Each one carries a message that names the file or value at fault, what was expected
and the next step, so a user can fix the problem without reading the source.
"""

from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    """A scene's files are in none of the places that were searched.

    The message lists every place tried (explicit root, ``HSI_ATTN_DATA``, the user
    cache, package copies) and the exact variable or command that fixes it.
    """


class ChecksumError(OSError):
    """A file's sha256 differs from the one recorded in its manifest.

    The file is never used and never overwritten; the message names the file, the
    expected and the actual hash, and what to do.
    """


class DataFileError(ValueError):
    """A cube or label file exists but cannot be read as what it claims to be.

    Raised for a damaged or truncated file, a header that is not one, a data file
    shorter than its header says, or an array name that the file does not hold. The
    one-line message names the file, what is wrong with it and what to do. A file that
    does not exist raises :class:`FileNotFoundError` instead.
    """


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines too) collapsed to one space."""
    return " ".join(str(text).split())
