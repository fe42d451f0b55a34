"""Checksummed downloads of scene files through pooch (only when asked)."""

from __future__ import annotations

import logging
from pathlib import Path

from hsi_attn.data.checksum import verify_sha256
from hsi_attn.data.errors import ChecksumError, DatasetNotFoundError
from hsi_attn.data.manifest import FileSpec

logger = logging.getLogger(__name__)


def download_file(spec: FileSpec, folder: str | Path, *, retries: int = 3) -> Path:
    """Download ``spec.url`` into ``folder/spec.name`` and verify its sha256.

    An existing file is verified, never replaced: if it is corrupt, a
    :class:`ChecksumError` says so and nothing is downloaded. pooch writes to a
    temporary file and moves it into place only after the hash matched, so a failed
    download leaves nothing behind.

    Args:
        spec: The manifest entry of the file.
        folder: Destination folder (created if needed).
        retries: How many times pooch retries a failed download.

    Returns:
        The path of the verified file.

    Raises:
        ChecksumError: If an existing or downloaded file has the wrong sha256.
        DatasetNotFoundError: If the download itself fails (network, HTTP error).
    """
    import pooch
    import requests

    folder = Path(folder)
    target = folder / spec.name
    if target.exists():
        verify_sha256(target, spec.sha256, hint=(
            f"It was not overwritten. Delete {str(target)!r} to download it again, or "
            f"replace it with a good copy from {spec.url}."
        ))
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fetcher = pooch.create(
        path=folder,
        base_url="",
        registry={spec.name: f"sha256:{spec.sha256}"},
        urls={spec.name: spec.url},
        retry_if_failed=retries,
        allow_updates=False,
    )
    logger.info("downloading %s from %s into %s", spec.name, spec.url, folder)
    try:
        path = Path(fetcher.fetch(spec.name, progressbar=False))
    except ValueError as exc:
        raise ChecksumError(
            f"the file downloaded from {spec.url} does not have the expected sha256 "
            f"{spec.sha256} ({exc}). Nothing was saved. The server may be serving another "
            f"version; download it by hand and check it, then put it at {str(target)!r}."
        ) from exc
    except (requests.RequestException, OSError) as exc:
        raise DatasetNotFoundError(
            f"downloading {spec.name} from {spec.url} failed after {retries + 1} attempt(s): "
            f"{exc}. Download it by hand (e.g. in a browser) and put it at {str(target)!r}, "
            "or point HSI_ATTN_DATA at a folder that holds it."
        ) from exc
    return path
