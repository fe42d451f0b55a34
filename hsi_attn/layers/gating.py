"""The base class of every gating attention layer: ``out = x * gate(x)``.

A gating layer squeezes the feature map spatially (average, and for CBAM also maximum,
over H and W; the band axis D is kept) and turns those descriptors into a gate in
(0, 1) that rescales the input. The two steps are separate methods on purpose:

* :meth:`ChannelGate.gate` pools over the whole window, which is the per-patch
  semantics;
* :meth:`ChannelGate.gate_from_pooled` works on descriptors of any spatial size, treating
  every spatial position independently. A dense (fully-convolutional) twin of a network
  feeds it per-position or box-filtered descriptors and obtains, at every pixel, exactly
  the gate the per-patch network computes.
"""

from __future__ import annotations

from torch import Tensor, nn

from hsi_attn.layers.feature_maps import check_feature_map, spatial_pool
from hsi_attn.layers.options import check_channels, gate_function


class ChannelGate(nn.Module):
    """Abstract gating layer: ``forward(x) = x * gate(x)``.

    Subclasses set ``feature_ndim`` (4 for 2-D maps, 5 for 3-D maps) and
    ``uses_max`` (whether the spatial maximum is a descriptor too), and implement
    :meth:`gate_from_pooled`.

    Args:
        channels: Number of input channels C.
        gate: Gate activation, "sigmoid" (default) or "hard_sigmoid".
    """

    feature_ndim: int = 5
    uses_max: bool = False

    def __init__(self, channels: int, *, gate: str = "sigmoid") -> None:
        super().__init__()
        self.channels = check_channels(channels)
        self.gate_name = gate
        self._activation = gate_function(gate)

    def activation(self, logits: Tensor) -> Tensor:
        """Map gate logits into [0, 1] with the configured activation."""
        return self._activation(logits)

    def gate(self, x: Tensor) -> Tensor:
        """The gate for ``x``, broadcastable against it (H and W of size 1)."""
        check_feature_map(x, channels=self.channels, ndim=self.feature_ndim, layer=type(self).__name__)
        avg, mx = spatial_pool(x, with_max=self.uses_max)
        return self.gate_from_pooled(avg, mx)

    def gate_from_pooled(self, avg: Tensor, mx: Tensor | None) -> Tensor:
        """Compute the gate from spatial descriptors, position by position.

        Args:
            avg: Spatial averages, ``(N, C, h, w)`` or ``(N, C, D, h, w)``; h = w = 1 in
                the per-patch case, larger when a dense twin evaluates many windows.
            mx: Spatial maxima of the same shape, or None unless ``uses_max``.

        Returns:
            The gate, same shape as ``avg`` except for axes the layer averages away.
        """
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Rescale ``x`` by its gate; the output has the input's shape."""
        return x * self.gate(x)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, gate={self.gate_name!r}"
