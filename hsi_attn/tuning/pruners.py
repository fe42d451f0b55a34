"""Pruners by name: when a study stops an unpromising trial early.

A trial reports its validation overall accuracy once per epoch (step = epoch number);
the pruner compares it with the other trials at the same epoch.

* ``median``: stop a trial whose value is below the median of earlier trials at the
  same epoch, from epoch 2 on (epoch 1 is too noisy) and once a quarter of the trials
  (at least 2, at most 5) have run unpruned.
* ``hyperband``: successive halving in several brackets, with resources counted in
  epochs from 1 to the configured maximum (Li et al., "Hyperband", JMLR 2018,
  https://arxiv.org/abs/1603.06560).
* ``none``: never prune.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna

from hsi_attn.registry import lookup, make_registry

__all__ = ["PRUNERS", "create_pruner"]


def _median(max_epochs: int, n_trials: int) -> optuna.pruners.BasePruner:
    startup = max(2, min(5, n_trials // 4))
    return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=2,
                                       interval_steps=1)


def _hyperband(max_epochs: int, n_trials: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 1))


def _none(max_epochs: int, n_trials: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.NopPruner()


PRUNERS: dict[str, Callable[[int, int], optuna.pruners.BasePruner]] = make_registry(  # type: ignore[assignment]
    [("median", _median), ("hyperband", _hyperband), ("none", _none)], kind="pruner",
)


def create_pruner(name: str, *, max_epochs: int, n_trials: int = 20) -> optuna.pruners.BasePruner:
    """Build the pruner registered as ``name``.

    Args:
        name: ``"median"``, ``"hyperband"`` or ``"none"`` (case-insensitive).
        max_epochs: Epochs per trial (Hyperband's maximum resource).
        n_trials: Trials in the study (the median pruner's startup count).

    Raises:
        ValueError: On an unknown name; the message lists the accepted ones.
    """
    return lookup(PRUNERS, name, kind="pruner")(max_epochs, n_trials)
