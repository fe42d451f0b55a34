"""Samplers by name: how a study proposes the next trial's parameters.

``tpe`` is Optuna's Tree-structured Parzen Estimator in its multivariate, grouped form,
which models conditional spaces (``reduction`` only for SE layers, ``kernel_size`` only
for ECA layers) as separate groups; with several workers it adds the constant liar so
concurrent trials do not all propose the same point. ``random`` samples uniformly.

Reference: Watanabe, "Tree-Structured Parzen Estimator: Understanding Its Algorithm
Components and Their Roles for Better Empirical Performance", 2023,
https://arxiv.org/abs/2304.11127
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import optuna

from hsi_attn.registry import lookup, make_registry

__all__ = ["SAMPLERS", "create_sampler"]


def _tpe(seed: int, parallel: bool) -> optuna.samplers.BaseSampler:
    with warnings.catch_warnings():
        # multivariate/group/constant_liar are flagged experimental but are the
        # documented way to handle conditional spaces and parallel workers.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constant_liar=parallel,
        )


def _random(seed: int, parallel: bool) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


SAMPLERS: dict[str, Callable[[int, bool], optuna.samplers.BaseSampler]] = make_registry(  # type: ignore[assignment]
    [("tpe", _tpe), ("random", _random)], kind="sampler",
)


def create_sampler(name: str, *, seed: int, parallel: bool = False) -> optuna.samplers.BaseSampler:
    """Build the sampler registered as ``name``.

    Args:
        name: ``"tpe"`` or ``"random"`` (case-insensitive).
        seed: Sampler seed; each worker passes a different one.
        parallel: Several workers share the study (TPE then uses the constant liar).

    Raises:
        ValueError: On an unknown name; the message lists the accepted ones.
    """
    return lookup(SAMPLERS, name, kind="sampler")(seed, parallel)
