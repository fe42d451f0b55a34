"""sha256 verification of data files before they are used."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hsi_attn.data.errors import ChecksumError

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Return the hex sha256 digest of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str, *, hint: str = "") -> str:
    """Check that the file at ``path`` has the sha256 ``expected``.

    Args:
        path: The file to check.
        expected: Expected hex digest (case-insensitive).
        hint: Extra advice appended to the error message (e.g. where to get a good copy).

    Returns:
        The verified digest.

    Raises:
        ChecksumError: If the digests differ; the file is left untouched.
    """
    actual = sha256_file(path)
    if actual != expected.lower():
        advice = hint or "Delete or replace it with a good copy, then try again."
        raise ChecksumError(
            f"sha256 mismatch for {str(path)!r}: expected {expected.lower()}, got {actual}. "
            f"The file is corrupt, truncated or a different version, so it was not used "
            f"and has not been modified. {advice}"
        )
    return actual
