"""The ``hsi-attn`` command line: a thin layer over the library.

:mod:`~hsi_attn.cli.main` holds the parser, the subcommand table and the terminal
(logging, warnings, one-line errors); :mod:`~hsi_attn.cli.options` the one options table
generated from :mod:`hsi_attn.config`; :mod:`~hsi_attn.cli.report` the text of results;
one module per subcommand (``train``, ``evaluate``, ``predict``, ``scenes``, ``models``,
``attention``, ``download``, ``tune``, ``experiment``). This package is the only place in
``hsi_attn`` that imports :mod:`argparse`.
"""

from hsi_attn.cli.main import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    SUBCOMMANDS,
    Subcommand,
    build_parser,
    main,
)

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_USAGE", "SUBCOMMANDS", "Subcommand",
           "build_parser", "main"]
