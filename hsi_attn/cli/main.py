"""The ``hsi-attn`` command line: a thin layer over :mod:`hsi_attn.run`.

Subcommands live in :data:`SUBCOMMANDS`, a table of ``(name, help, add_arguments,
handler)`` entries; adding one is adding a row. This module is the only place that
talks to the terminal: it configures logging, decides whether to show a progress bar
(only on a TTY and not with ``--quiet``), prints results to stdout, and turns expected
errors (bad names, missing files, unavailable devices, corrupt checkpoints) into one
``hsi-attn: error: ...`` line on stderr with a non-zero exit status.

Options that map to configuration default to "not given"; their defaults come from the
dataclasses in :mod:`hsi_attn.config`, the one source of defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from hsi_attn import __version__
from hsi_attn.cli.values import absolute_path, float_or_none, fraction_or_count, int_or
from hsi_attn.config import RunConfig

__all__ = ["SUBCOMMANDS", "Subcommand", "build_parser", "main"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


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


# (flags, config section, field, argparse keyword options)
_TRAIN_OPTIONS: tuple[tuple[tuple[str, ...], str, str, dict[str, Any]], ...] = (
    (("--scene",), "data", "scene", {"help": "scene name (see hsi-attn scenes); with --cube, "
                                            "the name given to your cube"}),
    (("--cube",), "data", "cube_path", {"type": absolute_path,
                                        "help": "train on your own cube file instead of a scene"}),
    (("--gt",), "data", "gt_path", {"type": absolute_path,
                                    "help": "ground truth for --cube (0 = unlabelled)"}),
    (("--cube-variable",), "data", "cube_variable", {"help": "array name inside --cube"}),
    (("--gt-variable",), "data", "gt_variable", {"help": "array name inside --gt"}),
    (("--split",), "data", "split", {"choices": ["random", "disjoint"],
                                     "help": "random per class, or spatially disjoint blocks"}),
    (("--train-size",), "data", "train_size", {"type": fraction_or_count,
                                               "help": "fraction (0.1) or count (20) per class"}),
    (("--val-size",), "data", "val_size", {"type": fraction_or_count,
                                           "help": "validation fraction or count per class"}),
    (("--normalization",), "data", "normalization", {"choices": ["standard", "minmax", "none"],
                                                     "help": "per-band scaling"}),
    (("--pca",), "data", "pca", {"type": int_or("none"), "help": "PCA components or 'none'"}),
    (("--model",), "model", "name", {"help": "model family (see hsi-attn models)"}),
    (("--attention",), "model", "attention", {"help": "attention (see hsi-attn attention)"}),
    (("--reduction",), "model", "reduction", {"type": int, "help": "SE-family reduction ratio"}),
    (("--kernel-size",), "model", "kernel_size", {"type": int_or("adaptive"),
                                                  "help": "ECA kernel size or 'adaptive'"}),
    (("--patch-size",), "model", "patch_size", {"type": int, "help": "odd spatial window side"}),
    (("--epochs",), "train", "epochs", {"type": int, "help": "maximum epochs"}),
    (("--batch-size",), "train", "batch_size", {"type": int, "help": "training batch size"}),
    (("--lr",), "train", "lr", {"type": float, "help": "peak learning rate"}),
    (("--weight-decay",), "train", "weight_decay", {"type": float, "help": "weight decay"}),
    (("--optimizer",), "train", "optimizer", {"help": "adamw, adam or sgd"}),
    (("--scheduler",), "train", "scheduler", {"help": "cosine, onecycle, step or none"}),
    (("--grad-clip",), "train", "grad_clip", {"type": float_or_none,
                                              "help": "max gradient norm or 'none'"}),
    (("--class-weights",), "train", "class_weights", {"action": argparse.BooleanOptionalAction,
                                                      "help": "inverse-frequency loss weights"}),
    (("--label-smoothing",), "train", "label_smoothing", {"type": float,
                                                          "help": "label smoothing"}),
    (("--patience",), "train", "patience", {"type": int_or("none"),
                                            "help": "early-stopping patience or 'none'"}),
    (("--precision",), "train", "precision", {"choices": ["auto", "fp32", "bf16", "fp16"],
                                              "help": "autocast precision"}),
    (("--compile",), "train", "compile", {"action": argparse.BooleanOptionalAction,
                                          "help": "wrap the model in torch.compile"}),
    (("--device",), "train", "device", {"help": "auto, cpu, cuda, cuda:N or mps"}),
    (("--seed",), "train", "seed", {"type": int, "help": "random seed"}),
    (("--augment",), "train", "augment", {"action": argparse.BooleanOptionalAction,
                                          "help": "random flips/rotations of training patches"}),
    (("--eval-batch-size",), "train", "eval_batch_size", {"type": int,
                                                          "help": "inference batch size"}),
)


def _default_of(section: str, name: str) -> Any:
    return getattr(getattr(RunConfig(), section), name)


def _add_common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="only warnings and the final result; no progress bar")
    group.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    group.add_argument("--threads", type=int, default=None, metavar="N",
                       help="CPU threads for torch (default: torch's choice, one per core; "
                            "1 is faster when other jobs share the cores)")


def _add_data_location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=None,
                        help="folder searched first for scene files")
    parser.add_argument("--download", action="store_true",
                        help="download the scene (checksummed) if it is not found")


# ------------------------------------------------------------------------------ train


def _add_train(parser: argparse.ArgumentParser) -> None:
    config_group = parser.add_argument_group("configuration (defaults from hsi_attn.config)")
    for flags, section, name, options in _TRAIN_OPTIONS:
        default = _default_of(section, name)
        config_group.add_argument(
            *flags, dest=f"{section}__{name}", default=argparse.SUPPRESS,
            metavar=flags[0][2:].upper(),
            **{**options, "help": f"{options['help']} (default: {default})"},
        )
    runs = parser.add_argument_group("repetitions")
    seeds = runs.add_mutually_exclusive_group()
    seeds.add_argument("--runs", type=int, default=None,
                       help="repeat with seeds seed..seed+N-1 and report mean ± std")
    seeds.add_argument("--seeds", type=int, nargs="+", default=None,
                       help="repeat with these seeds and report mean ± std")
    out = parser.add_argument_group("run directory")
    out.add_argument("--out", type=Path, default=None,
                     help="run directory (default runs/<scene>-<model>-<attention>-seed<seed>)")
    mode = out.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue the interrupted run in --out with its saved settings")
    mode.add_argument("--overwrite", action="store_true",
                      help="replace the run files already in --out")
    _add_data_location(parser)


def _config_from_args(args: argparse.Namespace, base: RunConfig) -> RunConfig:
    sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
    for _, section, name, _ in _TRAIN_OPTIONS:
        # Absent unless given (SUPPRESS), so an explicit "--pca none" overrides a default.
        if hasattr(args, f"{section}__{name}"):
            sections[section][name] = getattr(args, f"{section}__{name}")
    return RunConfig(
        data=dataclasses.replace(base.data, **sections["data"]),
        model=dataclasses.replace(base.model, **sections["model"]),
        train=dataclasses.replace(base.train, **sections["train"]),
    )


def _callbacks(args: argparse.Namespace) -> list[Any]:
    from hsi_attn.engine import EpochLogger, ProgressBar

    show_bar = sys.stderr.isatty() and not args.quiet
    return [ProgressBar(enabled=True)] if show_bar else [EpochLogger()]


def _run_train(args: argparse.Namespace) -> int:
    from hsi_attn.run import load_run_config, train_run, train_runs

    base = RunConfig()
    if args.resume:
        if args.out is None:
            raise ValueError("--resume needs --out RUN_DIR, the run to continue")
        base, _ = load_run_config(args.out)
    config = _config_from_args(args, base)
    command = shlex.join(["hsi-attn", *args.argv])
    options = {"root": args.root, "download": args.download, "resume": args.resume,
               "overwrite": args.overwrite, "callbacks": _callbacks(args), "command": command}
    if args.runs is not None or args.seeds is not None:
        if args.runs is not None and args.runs < 1:
            raise ValueError(f"--runs must be >= 1, got {args.runs}")
        seeds = args.seeds or list(range(config.train.seed, config.train.seed + args.runs))
        results, summary = train_runs(config, seeds, args.out, **options)
        for result in results:
            print(_one_line(result.metrics))
        print(_summary_text(summary))
        return 0
    result = train_run(config, args.out, **options)
    print(_metrics_text(result.metrics))
    print(f"run directory: {result.out_dir}")
    return 0


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _one_line(metrics: dict[str, Any]) -> str:
    test = metrics["test"]
    kappa = "n/a" if test["kappa"] is None else f"{test['kappa']:.4f}"
    return (f"seed {metrics['seed']}: OA {_pct(test['oa'])}  AA {_pct(test['aa'])}  "
            f"kappa {kappa}")


def _metrics_text(metrics: dict[str, Any]) -> str:
    test = metrics.get("test", metrics)
    lines = []
    if "scene" in metrics:
        lines.append(
            f"{metrics['scene']}  {metrics['model']} + {metrics['attention']}  seed "
            f"{metrics['seed']}  ({metrics['n_train']} train / {metrics['n_val']} val / "
            f"{metrics['n_test']} test pixels, {metrics['epochs_run']} epochs, "
            f"{metrics['timing']['fit_seconds']:.0f} s training)"
        )
    lines.append("per-class accuracy:")
    for entry in test["per_class"]:
        lines.append(f"  {entry['class'] + 1:>3} {entry['name']:<32} {_pct(entry['accuracy']):>8}"
                     f"  ({entry['support']} px)")
    kappa = "n/a" if test["kappa"] is None else f"{test['kappa']:.4f}"
    lines.append(f"OA {_pct(test['oa'])}  AA {_pct(test['aa'])}  kappa {kappa}")
    return "\n".join(lines)


def _summary_text(summary: dict[str, Any]) -> str:
    def fmt(key: str, scale: float, unit: str, digits: int) -> str:
        entry = summary[key]
        if entry["mean"] is None:
            return f"{key.upper() if key != 'kappa' else key} n/a"
        name = key.upper() if key != "kappa" else key
        return (f"{name} {scale * entry['mean']:.{digits}f} ± {scale * entry['std']:.{digits}f}"
                f"{unit}")

    return (f"{summary['n_runs']} runs (seeds {', '.join(map(str, summary['seeds']))}): "
            f"{fmt('oa', 100, '%', 2)}  {fmt('aa', 100, '%', 2)}  {fmt('kappa', 1, '', 4)}")


# ------------------------------------------------------------------- evaluate, predict


def _add_evaluate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory written by hsi-attn train")
    parser.add_argument("--device", default=None, help="device override (auto, cpu, cuda...)")
    _add_data_location(parser)


def _run_evaluate(args: argparse.Namespace) -> int:
    from hsi_attn.run import evaluate_run

    metrics = evaluate_run(args.run_dir, root=args.root, download=args.download,
                           device=args.device)
    print(_metrics_text(metrics))
    return 0


def _add_predict(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory written by hsi-attn train")
    parser.add_argument("--cube", type=Path, required=True,
                        help="cube to classify: .mat, ENVI .hdr, .npy or .npz, bands last")
    parser.add_argument("--variable", default=None, help="array name inside the cube file")
    parser.add_argument("--out", type=Path, required=True,
                        help="FILE.npy (labels, plus FILE.png map) or FILE.png (map only)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--device", default=None, help="device override (auto, cpu, cuda...)")


def _run_predict(args: argparse.Namespace) -> int:
    from hsi_attn.run import predict_cube

    labels = predict_cube(args.run_dir, args.cube, args.out, variable=args.variable,
                          overwrite=args.overwrite, device=args.device)
    print(f"classified {labels.shape[0]}x{labels.shape[1]} pixels -> {args.out}")
    return 0


# ------------------------------------------------------------------------- listings


def _add_scenes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=None, help="folder searched first")


def _run_scenes(args: argparse.Namespace) -> int:
    from hsi_attn.data import list_scenes, locate_scene

    for name in list_scenes():
        location = locate_scene(name, root=args.root)
        hint = f"; fetch with: hsi-attn train --scene {name} --download"
        print(f"{location}{'' if location.available else hint}")
    return 0


def _add_nothing(parser: argparse.ArgumentParser) -> None:
    del parser


def _run_models(args: argparse.Namespace) -> int:
    from hsi_attn.models import list_models

    for name in list_models():
        print(name)
    return 0


def _run_attention(args: argparse.Namespace) -> int:
    from hsi_attn.layers import list_attention

    for name in list_attention():
        print(name)
    return 0


# --------------------------------------------------------------- tune, experiment


def _add_tune(parser: argparse.ArgumentParser) -> None:
    from hsi_attn.cli.tune import add_tune_arguments

    add_tune_arguments(parser)


def _run_tune(args: argparse.Namespace) -> int:
    from hsi_attn.cli.tune import run_tune_command, tune_summary

    print(tune_summary(run_tune_command(args)))
    return 0


def _add_experiment(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="experiment file (experiments/configs/*.toml)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default experiments/results/<experiment name>)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: the file's [quick] overrides and the first seed only")


def _run_experiment(args: argparse.Namespace) -> int:
    from hsi_attn.experiment import load_experiment, run_and_publish

    spec = load_experiment(args.config)
    out = args.out or Path("experiments") / "results" / (spec.name + ("_quick" if args.quick else ""))
    command = shlex.join(["hsi-attn", *args.argv])
    summary = run_and_publish(spec, out, quick=args.quick, command=command)
    for cell in summary["cells"]:
        oa = cell["oa"]
        print(f"{cell['scene']}/{cell['protocol']} {cell['model']}+{cell['attention']}: "
              f"OA {100 * oa['mean']:.2f} +/- {100 * oa['std']:.2f} % over {oa['n']} seeds")
    print(f"results written to {out}")
    return 0


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("train", "train, evaluate and map one run (defaults: the main job)",
               _add_train, _run_train),
    Subcommand("evaluate", "recompute a run's test metrics", _add_evaluate, _run_evaluate),
    Subcommand("predict", "classify a new cube with a trained run", _add_predict, _run_predict),
    Subcommand("scenes", "list scenes and whether each is available locally",
               _add_scenes, _run_scenes),
    Subcommand("models", "list model families", _add_nothing, _run_models),
    Subcommand("attention", "list attention layers", _add_nothing, _run_attention),
    Subcommand("tune", "Optuna search over reduction ratio, kernel size and learning rate",
               _add_tune, _run_tune),
    Subcommand("experiment", "run (or resume) an experiment grid and publish its tables",
               _add_experiment, _run_experiment),
)


# ----------------------------------------------------------------------------- main


def build_parser(subcommands: Sequence[Subcommand] = SUBCOMMANDS) -> argparse.ArgumentParser:
    """The argument parser with one subparser per table row."""
    parser = _Parser(
        prog="hsi-attn",
        description="Hyperspectral image classification with 3D-CNNs and band-preserving "
                    "channel attention.",
    )
    parser.add_argument("--version", action="version", version=f"hsi-attn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in subcommands:
        child = sub.add_parser(entry.name, help=entry.help, description=entry.help)
        entry.add_arguments(child)
        _add_common(child)
        child.set_defaults(handler=entry.handler)
    return parser


def _expected_errors() -> tuple[type[BaseException], ...]:
    # Bad names and settings are ValueError (CheckpointError included); missing files,
    # run directories and scenes are OSError subclasses (DatasetNotFoundError too).
    return (ValueError, OSError)


def _configure_logging(args: argparse.Namespace) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    package = logging.getLogger("hsi_attn")
    package.addHandler(handler)
    package.setLevel(level)
    return handler


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
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"hsi-attn: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exit_:  # --help and --version
        return int(exit_.code or 0)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args.argv = argv
    if args.threads is not None:
        if args.threads < 1:
            print(f"hsi-attn: error: --threads must be >= 1, got {args.threads}", file=sys.stderr)
            return EXIT_USAGE
        import torch

        torch.set_num_threads(args.threads)
    handler = _configure_logging(args)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        hint = ""
        if args.command == "train":
            hint = ("; every finished epoch is checkpointed: repeat the command with --resume "
                    "(and the same --out) to continue")
        print(f"hsi-attn: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _expected_errors() as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"hsi-attn: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        logging.getLogger("hsi_attn").removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
