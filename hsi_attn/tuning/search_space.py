"""The search space: which values a trial may take, and how a trial turns them into a config.

The space is conditional. A parameter is only sampled when the trial's attention
actually uses it, as :func:`hsi_attn.layers.accepted_options` reports (``reduction`` for
the SE/CBAM family, ``kernel_size`` for the ECA family). So no trial is spent on a knob
its layer ignores, and the importance analysis is not polluted by dead parameters.

Defaults follow the issue; a TOML or JSON file overrides any of them::

    attention = ["eca_band", "se_band"]   # categorical; one name = fixed, not sampled
    reduction = [2, 4, 8, 16, 32]         # SE-family reduction ratios
    kernel_size = ["adaptive", 1, 3, 5, 7, 9]
    lr = [1e-4, 1e-2]                     # log-uniform bounds
    weight_decay = [1e-6, 1e-2]           # log-uniform bounds
    patch_size = [7, 9, 11]               # optional; absent = the base config's

Reference: Akiba et al., "Optuna: A Next-generation Hyperparameter Optimization
Framework", KDD 2019 (define-by-run conditional spaces), https://arxiv.org/abs/1907.10902
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hsi_attn.config import ModelConfig, RunConfig, TrainConfig, check_setting
from hsi_attn.layers import accepted_options

if TYPE_CHECKING:
    import optuna

__all__ = ["SearchSpace", "load_search_space", "search_space_from_dict", "suggest_config"]


@dataclass(frozen=True)
class SearchSpace:
    """Candidate values for every tuned knob.

    Attributes:
        attentions: Attention names to choose from; one name is fixed (not sampled),
            empty means "the base config's attention".
        reductions: Reduction ratios for attentions that accept ``reduction``.
        kernel_sizes: Kernel sizes (odd ints or ``"adaptive"``) for attentions that accept
            ``kernel_size``.
        lr: ``(low, high)`` bounds of the log-uniform learning rate.
        weight_decay: ``(low, high)`` bounds of the log-uniform weight decay.
        patch_sizes: Odd patch sizes to choose from; empty means the base config's.
    """

    attentions: tuple[str, ...] = ()
    reductions: tuple[int, ...] = (2, 4, 8, 16, 32)
    kernel_sizes: tuple[int | str, ...] = ("adaptive", 1, 3, 5, 7, 9)
    lr: tuple[float, float] = (1e-4, 1e-2)
    weight_decay: tuple[float, float] = (1e-6, 1e-2)
    patch_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        # Every candidate must be a valid setting: the configuration's own checks decide.
        self._canonical("attention", "attentions",
                        lambda name: ModelConfig(attention=name).attention, allow_empty=True)
        self._canonical("reduction", "reductions",
                        lambda r: check_setting(ModelConfig, "reduction", r))
        self._canonical("kernel_size", "kernel_sizes",
                        lambda k: check_setting(ModelConfig, "kernel_size", k))
        self._canonical("patch_size", "patch_sizes",
                        lambda p: check_setting(ModelConfig, "patch_size", p), allow_empty=True)
        _check_bounds("lr", self.lr, TrainConfig)
        _check_bounds("weight_decay", self.weight_decay, TrainConfig)

    def _canonical(self, name: str, attribute: str, check: Callable[[Any], Any],
                   *, allow_empty: bool = False) -> None:
        """Check the candidates of ``attribute`` and store them in canonical form."""
        values = getattr(self, attribute)
        if not values and not allow_empty:
            raise ValueError(f"search space: {name} needs at least one value")
        canonical = []
        for value in values:
            try:
                canonical.append(check(value))
            except ValueError as error:
                raise ValueError(
                    f"search space: {name} value {value!r} is not valid: {error}"
                ) from None
        if len(set(canonical)) != len(canonical):
            raise ValueError(f"search space: {name} lists a value twice: {list(values)}")
        object.__setattr__(self, attribute, tuple(canonical))

    def with_attentions(self, attentions: Sequence[str]) -> SearchSpace:
        """A copy choosing among ``attentions`` (e.g. from the command line)."""
        return dataclasses.replace(self, attentions=tuple(a.strip().lower() for a in attentions))

    def to_dict(self) -> dict[str, Any]:
        """The space in the file format of :func:`load_search_space` (JSON-serialisable)."""
        return {key: list(getattr(self, field)) for key, field in _FILE_KEYS.items()}


# File key -> dataclass field. The file uses the singular names of the config fields.
_FILE_KEYS = {
    "attention": "attentions",
    "reduction": "reductions",
    "kernel_size": "kernel_sizes",
    "lr": "lr",
    "weight_decay": "weight_decay",
    "patch_size": "patch_sizes",
}


def _check_bounds(name: str, bounds: tuple[float, float], cls: type) -> None:
    if len(bounds) == 2:
        for bound in bounds:
            try:
                check_setting(cls, name, bound)
            except ValueError as error:
                raise ValueError(f"search space: {name} bound {bound!r} is not valid: "
                                 f"{error}") from None
    if len(bounds) != 2 or not 0 < bounds[0] <= bounds[1]:
        raise ValueError(
            f"search space: {name} must be [low, high] with 0 < low <= high (log scale), "
            f"got {list(bounds)!r}"
        )


def load_search_space(path: str | os.PathLike[str]) -> SearchSpace:
    """Read a search space from a ``.toml`` or ``.json`` file; missing keys keep defaults.

    Args:
        path: The file. Accepted keys: ``attention``, ``reduction``, ``kernel_size``,
            ``lr``, ``weight_decay``, ``patch_size``; each takes a list.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: On an unknown key (with close matches), a value that is not a list,
            an invalid value, or a file that does not parse.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"search-space file {str(path)!r} does not exist; see experiments/tune/"
            "search_space.toml for an example"
        )
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            raw = json.loads(text)
        elif path.suffix.lower() == ".toml":
            import tomllib

            raw = tomllib.loads(text)
        else:
            raise ValueError(
                f"search-space file {str(path)!r} must end in .toml or .json, "
                f"not {path.suffix or '(no suffix)'!r}"
            )
    except (json.JSONDecodeError, ValueError) as exc:
        if "must end in" in str(exc):
            raise
        raise ValueError(f"search-space file {str(path)!r} does not parse: {exc}") from None
    return search_space_from_dict(raw, source=str(path))


def search_space_from_dict(raw: Mapping[str, Any], *, source: str = "search space") -> SearchSpace:
    """Build a :class:`SearchSpace` from the file format (see :func:`load_search_space`)."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{source}: expected a table of keys, got {type(raw).__name__}")
    values: dict[str, tuple[Any, ...]] = {}
    for key, value in raw.items():
        if key not in _FILE_KEYS:
            close = difflib.get_close_matches(str(key), list(_FILE_KEYS), n=2)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"{source}: unknown key {key!r}.{hint} Accepted keys: {', '.join(_FILE_KEYS)}."
            )
        if isinstance(value, (str, int, float)) and key == "attention":
            value = [value]
        if not isinstance(value, list):
            raise ValueError(
                f"{source}: {key} must be a list, got {value!r}"
                + (" (lr and weight_decay take [low, high])" if key in ("lr", "weight_decay") else "")
            )
        values[_FILE_KEYS[key]] = tuple(value)
    if "attentions" in values:
        values["attentions"] = tuple(str(a).strip().lower() for a in values["attentions"])
    try:
        return SearchSpace(**values)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


def suggest_config(trial: optuna.trial.BaseTrial, space: SearchSpace, base: RunConfig) -> RunConfig:
    """Sample one configuration from ``space`` into a copy of ``base``.

    Only the parameters the chosen attention uses are suggested, so the trial's
    ``params`` never hold ``reduction`` for an ECA layer or ``kernel_size`` for an SE one.

    Args:
        trial: The Optuna trial (or a ``FixedTrial`` to replay parameters).
        space: Candidate values.
        base: Everything that is not tuned (scene, split, model family, epochs, seed...).

    Returns:
        ``base`` with the sampled attention, options, patch size, lr and weight decay.
    """
    if len(space.attentions) > 1:
        attention = trial.suggest_categorical("attention", list(space.attentions))
    else:
        attention = space.attentions[0] if space.attentions else base.model.attention
    options = accepted_options(attention)
    model_changes: dict[str, Any] = {"attention": attention}
    if "reduction" in options:
        model_changes["reduction"] = trial.suggest_categorical("reduction", list(space.reductions))
    if "kernel_size" in options:
        model_changes["kernel_size"] = trial.suggest_categorical(
            "kernel_size", list(space.kernel_sizes))
    if len(space.patch_sizes) > 1:
        model_changes["patch_size"] = trial.suggest_categorical(
            "patch_size", list(space.patch_sizes))
    elif space.patch_sizes:
        model_changes["patch_size"] = space.patch_sizes[0]
    lr = trial.suggest_float("lr", *space.lr, log=True)
    weight_decay = trial.suggest_float("weight_decay", *space.weight_decay, log=True)
    return dataclasses.replace(
        base,
        model=dataclasses.replace(base.model, **model_changes),
        train=dataclasses.replace(base.train, lr=lr, weight_decay=weight_decay),
    )
