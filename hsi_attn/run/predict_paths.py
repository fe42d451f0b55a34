"""Which files a prediction may write: never an input, never an existing file unasked.

A prediction reads a cube (an ENVI cube is a header and a data file) and a run
directory, and writes maps. :func:`check_output_paths` refuses an output that is one
of those inputs whatever ``overwrite`` says, because writing it would destroy what the
prediction reads; and refuses an existing output unless ``overwrite`` is given. Paths
are compared after resolving symbolic links, and by file identity (hard links).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["InputOverwriteError", "check_output_paths", "input_files"]

_ENVI_DATA_SUFFIXES = ("", ".img", ".dat", ".raw", ".bsq", ".bil", ".bip", ".sli")
_ENVI_SUFFIXES = (".hdr", *(s for s in _ENVI_DATA_SUFFIXES if s))


class InputOverwriteError(ValueError):
    """An output path names a file the prediction reads."""


def input_files(cube: str | os.PathLike[str], run_dir: str | os.PathLike[str]) -> list[Path]:
    """The cube file, its ENVI header or data files, and every file of the run directory."""
    cube = Path(cube)
    found = [cube]
    if cube.suffix.lower() in _ENVI_SUFFIXES:
        headers = [cube] if cube.suffix.lower() == ".hdr" else [
            cube.with_suffix(".hdr"), cube.with_name(cube.name + ".hdr")]
        for header in headers:
            found.append(header)
            found.extend(header.with_suffix(s) for s in _ENVI_DATA_SUFFIXES)
            found.extend(header.with_suffix(s.upper()) for s in _ENVI_DATA_SUFFIXES if s)
    run_dir = Path(run_dir)
    if run_dir.is_dir():
        found.extend(p for p in run_dir.iterdir() if p.is_file())
    return found


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_paths(outputs: Sequence[Path], inputs: Iterable[Path], *,
                       overwrite: bool) -> None:
    """Refuse outputs that are inputs, repeat each other, or exist without ``overwrite``.

    Raises:
        InputOverwriteError: If an output is an input file (with or without
            ``overwrite``; the message names both).
        ValueError: If two outputs are the same file.
        FileExistsError: If an output exists and ``overwrite`` is False.
    """
    inputs = [p for p in inputs if p.exists() or p.is_symlink()]
    for output in outputs:
        clash = next((p for p in inputs if _same_file(output, p)), None)
        if clash is not None:
            raise InputOverwriteError(
                f"output {str(output)!r} is the input file {str(clash)!r}; writing it would "
                "destroy what the prediction reads (--overwrite does not change that): choose "
                "another output name"
            )
    for i, output in enumerate(outputs):
        twin = next((o for o in outputs[:i] if o.resolve() == output.resolve()), None)
        if twin is not None:
            raise ValueError(
                f"two outputs are the same file {str(output)!r} (a raster map's PNG quicklook "
                "is written beside it as NAME.png); give each output its own name"
            )
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; pass "
            "--overwrite (overwrite=True) to replace, or choose another output name"
        )
