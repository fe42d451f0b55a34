"""The reference form of a dense twin: the arithmetic that FLOP counts describe.

For speed, a dense twin computes some steps differently from how the model defines
them: the flagship's spectral head as matrix products that also multiply zeros of the
band padding (:mod:`hsi_attn.models.spectral_matrices`), and the window average as a
depthwise convolution (:func:`hsi_attn.models.dense.box_filter`). Inside
:func:`reference_form` the twin computes them as the model defines them instead: the
head's convolutions as convolutions, the window average as an average pooling, which
FLOP counters do not count, just as they do not count the patch model's ``mean``.

:func:`hsi_attn.models.profile.forward_flops` counts inside it, so that no figure
credits a twin with work that is an implementation detail. Both forms give the same
results up to floating-point rounding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_REFERENCE: ContextVar[bool] = ContextVar("hsi_attn_reference_form", default=False)


@contextlib.contextmanager
def reference_form() -> Iterator[None]:
    """Within this block, dense twins compute in the model's reference form."""
    token = _REFERENCE.set(True)
    try:
        yield
    finally:
        _REFERENCE.reset(token)


def in_reference_form() -> bool:
    """Whether the caller runs inside :func:`reference_form`."""
    return _REFERENCE.get()
