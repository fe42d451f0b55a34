"""The ``hsi-attn`` command line: the parser, the terminal and the one-line errors.

Subcommands live in :data:`SUBCOMMANDS`, a table of ``(name, help, add_arguments,
handler)`` rows, one module each under :mod:`hsi_attn.cli`; adding one is adding a row.
This module decides what reaches the terminal: it configures logging (INFO by default,
WARNING with ``--quiet``, DEBUG with ``--verbose``), shows every warning (a logged one
or a Python ``warnings.warn``) as one ``hsi-attn: warning: ...`` line, and turns
expected errors (bad names, missing files, unavailable devices, corrupt checkpoints)
into one ``hsi-attn: error: ...`` line on stderr with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TextIO

from hsi_attn import __version__
from hsi_attn.cli import (
    attention,
    download,
    evaluate,
    experiment,
    export,
    models,
    predict,
    scenes,
    train,
    tune,
)

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_USAGE", "SUBCOMMANDS", "Subcommand",
           "build_parser", "main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PROG = "hsi-attn"


class UsageError(Exception):
    """A command line argparse could not parse."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become one line instead of usage + exit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


class Subcommand(NamedTuple):
    """One row of the subcommand table."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("train", "train, evaluate and map one run (defaults: the main job)",
               train.add_arguments, train.run),
    Subcommand("evaluate", "recompute a run's test metrics", evaluate.add_arguments,
               evaluate.run),
    Subcommand("predict", "classify a new cube with a trained run", predict.add_arguments,
               predict.run),
    Subcommand("scenes", "list scenes and whether each is available locally",
               scenes.add_arguments, scenes.run),
    Subcommand("models", "list model families with their input shape",
               models.add_arguments, models.run),
    Subcommand("attention", "list attention layers with their input shape",
               attention.add_arguments, attention.run),
    Subcommand("download", "fetch a scene's files (checksummed) without training",
               download.add_arguments, download.run),
    Subcommand("tune", "Optuna search over reduction ratio, kernel size and learning rate",
               tune.add_arguments, tune.run),
    Subcommand("experiment", "run (or resume) an experiment grid and publish its tables",
               experiment.add_arguments, experiment.run),
    Subcommand("export", "write a trained run as ONNX models (preprocessing included)",
               export.add_arguments, export.run),
)

_INTERRUPT_HINTS = {
    "train": "; every finished epoch is checkpointed: repeat the command with --resume "
             "(and the same --out) to continue",
}


def _add_common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="only warnings and the final result; no progress bar")
    group.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    group.add_argument("--threads", type=int, default=None, metavar="N",
                       help="CPU threads for torch (default: torch's choice, one per core; "
                            "1 is faster when other jobs share the cores)")


def build_parser(subcommands: Sequence[Subcommand] = SUBCOMMANDS) -> argparse.ArgumentParser:
    """The argument parser with one subparser per table row."""
    parser = _Parser(
        prog=PROG,
        description="Hyperspectral image classification with 3D-CNNs and band-preserving "
                    "channel attention.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in subcommands:
        child = sub.add_parser(entry.name, help=entry.help, description=entry.help)
        entry.add_arguments(child)
        _add_common(child)
        child.set_defaults(handler=entry.handler)
    return parser


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _TerminalFormatter(logging.Formatter):
    """Messages as they are; a warning or error as one ``hsi-attn: warning: ...`` line."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno < logging.WARNING:
            return super().format(record)
        return f"{PROG}: {record.levelname.lower()}: {_one_line(record.getMessage())}"


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    del category, filename, lineno, line  # the terminal gets the message, not the source
    print(f"{PROG}: warning: {_one_line(str(message))}", file=file or sys.stderr)


@contextlib.contextmanager
def _terminal(args: argparse.Namespace) -> Iterator[None]:
    """Route the package's logging and Python warnings to stderr for one command."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_TerminalFormatter("%(message)s"))
    package = logging.getLogger("hsi_attn")
    previous_level = package.level
    package.addHandler(handler)
    package.setLevel(logging.DEBUG if args.verbose else
                     logging.WARNING if args.quiet else logging.INFO)
    previous_show = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    finally:
        warnings.showwarning = previous_show
        package.removeHandler(handler)
        package.setLevel(previous_level)


def _error(message: str) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)


def _expected_errors() -> tuple[type[BaseException], ...]:
    # Bad names and settings are ValueError (CheckpointError included); missing files,
    # run directories and scenes are OSError subclasses (DatasetNotFoundError too).
    return (ValueError, OSError)


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except SystemExit as exit_:  # --help and --version
        return int(exit_.code or 0)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.threads is not None:
        if args.threads < 1:
            _error(f"--threads must be >= 1, got {args.threads}")
            return EXIT_USAGE
        import torch

        torch.set_num_threads(args.threads)
    args.argv = argv
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hsi-attn`` command line.

    Args:
        argv: Arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 on an error, 2 on a usage error, 130 after Ctrl-C.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    parsed = _parse(parser, argv)
    if isinstance(parsed, int):
        return parsed
    args: Any = parsed
    with _terminal(args):
        try:
            return args.handler(args)
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted{_INTERRUPT_HINTS.get(args.command, '')}",
                  file=sys.stderr)
            return EXIT_INTERRUPTED
        except _expected_errors() as exc:
            _error(_one_line(str(exc)) or type(exc).__name__)
            return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
