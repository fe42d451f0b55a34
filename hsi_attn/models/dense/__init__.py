"""Dense (fully-convolutional) twins: one pass over a scene equals one pass per patch.

A patch classifier f maps the p x p window around a pixel to logits. Run naively over a
scene it recomputes every interior feature up to p^2 times, once for each window that
contains it. The dense-capable families are built so that f is a *sliding-window
function* with an exact one-pass form:

1. a **spatial stage** of convolutions that are "valid" spatially (no spatial padding)
   and otherwise position-wise (BN, ReLU, spectral convolutions, centre-cropped
   shortcuts). Applied to the padded scene it yields, at every position, exactly the
   features each overlapping patch would compute: this is where the p^2-fold work is
   shared;
2. an **average over the remaining r x r window**, which over a scene is a stride-1 box
   filter (:mod:`.box_filter`);
3. a **head** that only ever sees a 1 x 1 spatial map: spectral blocks (spatial kernel
   1), attention, the classifier. Whatever the head does at one position depends on
   that position alone, so a twin runs it on every position at once
   (:mod:`.positionwise`, and :mod:`.spectral_matrices` for the flagship's head as
   matrix products).

What is *not* exact is attention inside the spatial stage: a gate computed from a whole
p x p window and then followed by further spatial convolutions differs between
overlapping patches, so the families keep attention out of the spatial stage (see each
family's docstring).

The parts, one idea per module:

* :mod:`.twin`: :class:`DenseCapable` (callers test ``isinstance(model,
  DenseCapable)``, never model names), :class:`WindowAveragedNet` (the base of the
  families) and :class:`DenseTwin`, with the reference twin (``dense_twin()``, the
  model's arithmetic, what FLOP counts describe) and the fused twin (``fused_twin()``,
  what inference runs);
* :mod:`.folding`: evaluation-mode batch norm folded into convolutions, as a step that
  returns a folded copy;
* :mod:`.box_filter`, :mod:`.positionwise`, :mod:`.spectral_matrices`: the window
  average and the head's forms;
* :mod:`.cpu_choices`: every CPU-kernel choice, with the measurement behind it.
"""

from hsi_attn.models.dense.folding import fold_batch_norm
from hsi_attn.models.dense.positionwise import PositionwiseHead
from hsi_attn.models.dense.twin import DenseCapable, DenseTwin, WindowAveragedNet

__all__ = ["DenseCapable", "DenseTwin", "PositionwiseHead", "WindowAveragedNet", "fold_batch_norm"]
