"""Run a module in evaluation mode and give back exactly the modes it had.

``was_training = model.training; model.eval(); ...; model.train(was_training)`` looks
like a restore but is not one: ``train(mode)`` sets *every* submodule to the root's
mode. A model whose head is being fine-tuned while its backbone stays in eval mode
comes back entirely in training mode, its frozen batch norms collecting statistics
again; and a fresh wrapper (say a dense twin, an ``nn.Sequential`` around shared
layers) starts in training mode and switches the modules it shares to it. This context
manager records which modules were training and switches back exactly those.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def evaluation_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Within this block ``module`` and all its submodules are in evaluation mode.

    On exit (also on an exception) the modules that were training are training again,
    and no other module's mode changes. A module already entirely in evaluation mode is
    not walked a second time.

    Args:
        module: Any ``nn.Module``.

    Yields:
        ``module`` itself.
    """
    training = [submodule for submodule in module.modules() if submodule.training]
    if training:
        module.eval()
    try:
        yield module
    finally:
        for submodule in training:
            submodule.training = True
