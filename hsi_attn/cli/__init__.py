"""The ``hsi-attn`` command line: a thin layer over the library (see :mod:`hsi_attn.cli.main`)."""

from hsi_attn.cli.main import EXIT_ERROR, EXIT_USAGE, SUBCOMMANDS, Subcommand, build_parser, main

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "SUBCOMMANDS", "Subcommand", "build_parser", "main"]
