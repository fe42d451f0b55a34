"""Docs are claims: what README.md says is checked against the code and the result files.

* every dotted ``hsi_attn.…`` name in backticks or code, and every
  ``from hsi_attn… import …`` in a Python block, imports;
* every repository path the README names (``experiments/…``, ``hsi_attn/…``, ``tests/…``,
  ``data_manifests/…``) exists; ``*`` globs must match something, and ``<placeholder>``
  paths must have their fixed part;
* every ``hsi-attn …`` command in a shell block parses with the real parser;
* every figure quoted from a result file is in that file (the convention below).

The figure convention: a figure quoted from a file follows the file's path in backticks
and a colon, up to the closing parenthesis (or the end of the paragraph)::

    (`experiments/benchmarks/results/train_default.json`: OA 98.44 %, kappa 0.9822)

Each number in that group must be in the file, as written there or rounded to the
README's decimals: a number followed by ``%`` may be a fraction in the file (0.98437),
one followed by ``ms`` may be seconds there. So after rerunning a benchmark, the test
fails until the README quotes the new figures. A measured-looking figure outside such a
group (a decimal percentage, a time in s or ms, a speed-up like 36x) is an error too:
cite the file it comes from, or drop it.
"""

from __future__ import annotations

import ast
import importlib
import json
import math
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
DOTTED = re.compile(r"(?<![\w./])hsi_attn(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w./-])(?:experiments|hsi_attn|tests|data_manifests)/[\w./*<>-]*")
CITATION = re.compile(r"`([\w./-]+\.(?:json|md|txt|csv))`:")
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(\s*(?:%|ms\b|s\b)|x\b|(?!\w))")
STRAY_FIGURE = re.compile(r"(?<![\w.])\d+(?:\.\d+\s*%|(?:\.\d+)?\s*(?:ms|s)\b|(?:\.\d+)?x\b)")


def code_blocks(language: str | None = None) -> list[str]:
    """Fenced code blocks of the README, optionally only one language."""
    return [body for lang, body in FENCE.findall(TEXT) if language is None or lang == language]


def prose() -> str:
    """The README without its fenced code blocks."""
    return FENCE.sub("", TEXT)


def inline_code() -> list[str]:
    """The contents of every backtick span outside code blocks."""
    return re.findall(r"`([^`\n]+)`", prose())


def resolve(dotted: str) -> object:
    """Import ``dotted``: attributes where they exist, submodules where they do not."""
    parts = dotted.split(".")
    obj: object = importlib.import_module(parts[0])
    for depth, part in enumerate(parts[1:], start=2):
        if hasattr(obj, part):
            obj = getattr(obj, part)
        else:
            obj = importlib.import_module(".".join(parts[:depth]))
    return obj


def dotted_names() -> list[str]:
    names = {m for span in inline_code() for m in DOTTED.findall(span)}
    names |= {m for block in code_blocks() for m in DOTTED.findall(block)}
    return sorted(names)


def python_imports() -> list[tuple[str, str | None]]:
    """``(module, name)`` for every hsi_attn import in a Python block or a backtick span
    (name None: a module)."""
    spans = [s for s in inline_code() if re.match(r"(from|import) hsi_attn\b", s)]
    found = []
    for block in code_blocks("python") + spans:
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hsi_attn"):
                found += [(node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                found += [(a.name, None) for a in node.names if a.name.startswith("hsi_attn")]
    return found


def cited_paths() -> list[str]:
    return sorted({m.rstrip(".") for m in PATH.findall(TEXT)})


def paragraphs() -> list[str]:
    return [p for p in re.split(r"\n\s*\n", prose()) if p.strip()]


@dataclass(frozen=True)
class Figure:
    """A number quoted in the README from ``source``."""

    source: str
    text: str
    unit: str

    @property
    def value(self) -> float:
        return float(self.text)

    @property
    def tolerance(self) -> float:
        decimals = len(self.text.partition(".")[2])
        return 0.5 * 10.0**-decimals + 1e-9

    @property
    def scales(self) -> tuple[float, ...]:
        return {"%": (1.0, 100.0), "ms": (1.0, 1000.0)}.get(self.unit, (1.0,))


def citation_groups() -> list[tuple[str, str]]:
    """``(path, quoted text)`` for every figure group of the convention."""
    groups = []
    for paragraph in paragraphs():
        for match in CITATION.finditer(paragraph):
            rest = paragraph[match.end():]
            groups.append((match.group(1), rest.split(")", 1)[0]))
    return groups


def quoted_figures() -> list[Figure]:
    figures = []
    for source, quoted in citation_groups():
        for number, unit in NUMBER.findall(quoted):
            figures.append(Figure(source, number, unit.strip()))
    return figures


def numbers_in(path: Path) -> list[float]:
    """Every number in a result file: JSON values, or the numbers written in a text file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        found: list[float] = []

        def walk(value: object) -> None:
            if isinstance(value, bool):
                return
            if isinstance(value, (int, float)):
                found.append(float(value))
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(value, str):
                found.extend(float(n) for n, _ in NUMBER.findall(value))

        walk(json.loads(text))
        return found
    return [float(n) for n in re.findall(r"\d+(?:\.\d+)?", text)]


def is_in(figure: Figure, numbers: list[float]) -> bool:
    return any(
        math.isfinite(n) and abs(n * scale - figure.value) <= figure.tolerance
        for n in numbers
        for scale in figure.scales
    )


def without_citation_groups(paragraph: str) -> str:
    for match in reversed(list(CITATION.finditer(paragraph))):
        end = paragraph.find(")", match.end())
        end = len(paragraph) if end < 0 else end
        paragraph = paragraph[: match.start()] + paragraph[end:]
    return paragraph


def hsi_attn_commands() -> list[str]:
    """Each ``hsi-attn …`` command of the shell blocks, continuation lines joined."""
    commands = []
    for block in code_blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            for command in line.split("#", 1)[0].split(";"):
                for part in command.split("&&"):
                    if part.strip().startswith("hsi-attn"):
                        commands.append(part.strip())
    return commands


# --------------------------------------------------------------------------- the checks


def test_the_readme_has_what_these_checks_read() -> None:
    assert dotted_names() and python_imports() and cited_paths()
    assert quoted_figures() and hsi_attn_commands()


@pytest.mark.parametrize("name", dotted_names())
def test_every_dotted_name_imports(name: str) -> None:
    resolve(name)


@pytest.mark.parametrize(("module", "name"), python_imports())
def test_every_import_in_the_code_blocks_resolves(module: str, name: str | None) -> None:
    imported = importlib.import_module(module)
    if name is not None:
        assert hasattr(imported, name) or importlib.import_module(f"{module}.{name}")


@pytest.mark.parametrize("cited", cited_paths())
def test_every_cited_path_exists(cited: str) -> None:
    fixed = cited.split("<", 1)[0]
    if "*" in fixed:
        assert list(ROOT.glob(fixed.rstrip("/"))), f"README cites {cited}, which matches nothing"
    else:
        assert (ROOT / fixed).exists(), f"README cites {cited}, which does not exist"


@pytest.mark.parametrize("command", hsi_attn_commands(), ids=lambda c: c[:60])
def test_every_command_parses(command: str) -> None:
    from hsi_attn.cli import build_parser

    args = build_parser().parse_args(shlex.split(command)[1:])
    assert args.handler is not None


@pytest.mark.parametrize(
    "figure", quoted_figures(), ids=lambda f: f"{Path(f.source).name}:{f.text}{f.unit}"
)
def test_every_quoted_figure_is_in_its_file(figure: Figure) -> None:
    path = ROOT / figure.source
    assert path.is_file(), f"README quotes figures from {figure.source}, which does not exist"
    assert is_in(figure, numbers_in(path)), (
        f"README quotes {figure.text} {figure.unit} from {figure.source}, which has no such "
        "number: rerun what wrote it, or quote what it says"
    )


@pytest.mark.parametrize("paragraph", paragraphs(), ids=lambda p: p[:40])
def test_no_measured_figure_without_its_file(paragraph: str) -> None:
    stray = STRAY_FIGURE.findall(without_citation_groups(paragraph))
    assert not stray, (
        f"README quotes {stray} without citing a file: write them as "
        "(`path/to/result.json`: figures) or drop them"
    )


# ------------------------------------------------------------- the checks check something


def test_the_convention_catches_a_wrong_figure(tmp_path: Path) -> None:
    result = tmp_path / "r.json"
    result.write_text(json.dumps({"oa": 0.98437, "dense_s": 0.0463, "speedup": 36.49}))
    numbers = numbers_in(result)
    assert is_in(Figure("r.json", "98.44", "%"), numbers)
    assert is_in(Figure("r.json", "46", "ms"), numbers)
    assert is_in(Figure("r.json", "36", "x"), numbers)
    assert not is_in(Figure("r.json", "98.45", "%"), numbers)
    assert not is_in(Figure("r.json", "88", "s"), numbers)
    assert not is_in(Figure("r.json", "59", "ms"), numbers)


def test_stray_figures_are_found() -> None:
    assert STRAY_FIGURE.findall("took 88 s, OA 98.45 %, 59 ms, 36x faster") == [
        "88 s", "98.45 %", "59 ms", "36x"
    ]
    assert not STRAY_FIGURE.findall("10 % training, 2-core CPU, 5 seeds, resnet3d, 38-43 % OA")
    cited = "it took (`a.json`: 88 s, 98.45 %) on a CPU"
    assert not STRAY_FIGURE.findall(without_citation_groups(cited))


def test_a_missing_name_does_not_resolve() -> None:
    with pytest.raises(ImportError):
        resolve("hsi_attn.data.splits.leakage")
