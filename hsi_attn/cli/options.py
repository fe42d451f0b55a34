"""The one table of configuration options, generated from :mod:`hsi_attn.config`.

Every field of :class:`~hsi_attn.config.DataConfig`, :class:`~hsi_attn.config.ModelConfig`
and :class:`~hsi_attn.config.TrainConfig` carries its help text, value kind, flag and
choices as metadata (``setting(...)``); :data:`OPTIONS` walks those fields, so a new
setting is on the command line the day it is added to the configuration, with its help
written once. ``hsi-attn train`` takes every option; ``hsi-attn tune`` takes those the
tuner does not search (:func:`fixed_options`).

Options default to :data:`argparse.SUPPRESS`: an option left out is absent from the parsed
arguments, so only the options given override a base configuration (the defaults, or
a run's saved settings on ``--resume``), and an explicit ``--pca none`` still overrides.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hsi_attn.cli.values import KIND_PARSERS
from hsi_attn.config import RunConfig

__all__ = ["OPTIONS", "Option", "add_config_options", "add_scene_location", "config_from_args",
           "fixed_options"]


@dataclass(frozen=True)
class Option:
    """One configuration setting as a command-line option.

    Attributes:
        section: The :class:`~hsi_attn.config.RunConfig` field holding it (``"data"``,
            ``"model"`` or ``"train"``).
        name: The setting's field name.
        flag: The command-line flag, e.g. ``--train-size``.
        kind: The value kind (a key of :data:`~hsi_attn.cli.values.KIND_PARSERS`).
        help: The setting's one-line help, without the default.
        default: The configuration's default.
        choices: The accepted words, or None.
        searched: The tuner searches this setting.
    """

    section: str
    name: str
    flag: str
    kind: str
    help: str
    default: Any
    choices: tuple[str, ...] | None
    searched: bool

    @property
    def dest(self) -> str:
        """The attribute name in the parsed arguments (unique across sections)."""
        return f"{self.section}__{self.name}"

    def help_with_default(self) -> str:
        """The help text with ``(default: X)``, escaped for argparse's %-formatting."""
        default = self.default
        if isinstance(default, bool):
            shown: str | None = "on" if default else "off"
        elif default is None:
            shown = "none" if self.kind.endswith("_or_none") else None
        else:
            shown = str(default)
        text = self.help if shown is None else f"{self.help} (default: {shown})"
        return text.replace("%", "%%")


def _options() -> tuple[Option, ...]:
    defaults = RunConfig()
    options = []
    for section in dataclasses.fields(defaults):
        config = getattr(defaults, section.name)
        for item in dataclasses.fields(config):
            meta = item.metadata
            options.append(Option(
                section=section.name,
                name=item.name,
                flag=meta.get("flag") or "--" + item.name.replace("_", "-"),
                kind=meta["kind"],
                help=meta["help"],
                default=getattr(config, item.name),
                choices=meta.get("choices"),
                searched=bool(meta.get("searched")),
            ))
    return tuple(options)


OPTIONS: tuple[Option, ...] = _options()
"""Every configuration setting, in the order of the dataclasses' fields."""


def fixed_options() -> tuple[Option, ...]:
    """The settings ``hsi-attn tune`` holds fixed: every one the tuner does not search."""
    return tuple(option for option in OPTIONS if not option.searched)


def add_config_options(group: argparse.ArgumentParser | argparse._ArgumentGroup,
                       options: Iterable[Option] = OPTIONS) -> None:
    """Add ``options`` to a parser or argument group, each defaulting to "not given"."""
    for option in options:
        keywords: dict[str, Any] = {"dest": option.dest, "default": argparse.SUPPRESS,
                                    "help": option.help_with_default()}
        if option.kind == "bool":
            keywords["action"] = argparse.BooleanOptionalAction
        else:
            parser = KIND_PARSERS[option.kind]
            if parser is not None:
                keywords["type"] = parser
            if option.choices:
                keywords["choices"] = list(option.choices)
            else:
                keywords["metavar"] = option.flag[2:].upper().replace("-", "_")
        group.add_argument(option.flag, **keywords)


def config_from_args(args: argparse.Namespace, base: RunConfig | None = None) -> RunConfig:
    """``base`` (default: the configuration's defaults) with the options given in ``args``."""
    base = RunConfig() if base is None else base
    given: dict[str, dict[str, Any]] = {}
    for option in OPTIONS:
        if hasattr(args, option.dest):
            given.setdefault(option.section, {})[option.name] = getattr(args, option.dest)
    sections = {section: dataclasses.replace(getattr(base, section), **values)
                for section, values in given.items()}
    return dataclasses.replace(base, **sections)


def add_scene_location(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *,
                       download: bool = True) -> None:
    """Add ``--root`` (and ``--download``), where a command looks for scene files."""
    parser.add_argument("--root", type=Path, default=None, metavar="DIR",
                        help="folder searched first for scene files")
    if download:
        parser.add_argument("--download", action="store_true",
                            help="download the scene (checksummed) if it is not found "
                                 "(or fetch it first with hsi-attn download SCENE)")
