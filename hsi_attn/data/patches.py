"""Patches gathered by index from one padded cube, never materialised for the scene.

Materialising every patch costs ``N * B * p * p`` values: 25x25x200 patches for the
10,249 labelled Indian Pines pixels take about 5 GB while the cube is 17 MB.
:class:`PatchSampler` pads the cube once (reflect or symmetric, so border pixels get
full patches), keeps it as a torch tensor on the training device, and cuts a batch
``(n, 1, B, p, p)`` from a strided window view with one advanced-indexing call. Only
the batch is ever allocated.

Training batches are served by :class:`hsi_attn.data.batches.PatchSource` over a
sampler; :func:`iter_scene_batches` serves full-scene inference.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from hsi_attn.checks import check_int
from hsi_attn.data.patches_geometry import check_patch_size

PAD_MODES = ("reflect", "symmetric")
"""Border handling: ``reflect`` mirrors without repeating the edge pixel (``d c b | a b c
d``), ``symmetric`` repeats it (``c b a | a b c``); both as in ``numpy.pad``."""


_CHUNK_ELEMENTS = 1 << 18  # 1 MiB of float32: small blocks the allocator reuses


def _padded_rows(
    cube: np.ndarray | Tensor, rows: np.ndarray, cols: np.ndarray, device: torch.device
) -> Tensor:
    """Rows ``rows`` of the padded cube, ``(k, W + 2g, B)`` float32 on ``device``."""
    if isinstance(cube, Tensor):
        index_r = torch.as_tensor(rows, device=cube.device)
        index_c = torch.as_tensor(cols, device=cube.device)
        return cube[index_r][:, index_c].to(device=device, dtype=torch.float32)
    block = np.asarray(cube)[rows][:, cols].astype(np.float32, copy=False)
    return torch.from_numpy(block).to(device)


def _as_device(device: torch.device | str | None, cube: np.ndarray | Tensor) -> torch.device:
    if device is not None:
        return torch.device(device)
    return cube.device if isinstance(cube, Tensor) else torch.device("cpu")


class PatchSampler:
    """Cut ``p x p`` patches around pixels of a cube padded once.

    Args:
        cube: ``(H, W, B)`` cube (numpy array or torch tensor); converted to float32.
        patch_size: Odd patch side ``p``.
        pad_mode: ``"reflect"`` or ``"symmetric"`` (see :data:`PAD_MODES`).
        device: Where the padded cube lives and batches are built; default the cube's
            device (CPU for numpy).

    Attributes:
        padded: ``(B, H + 2g, W + 2g)`` float32 tensor, ``g = patch_size // 2``.
        pad_width: ``g``, the pad added on each side.

    Raises:
        ValueError: On an even or non-positive patch size, an unknown pad mode, a cube
            that is not 3-D, or NaN/Inf values in the cube.
    """

    def __init__(
        self,
        cube: np.ndarray | Tensor,
        patch_size: int,
        *,
        pad_mode: str = "reflect",
        device: torch.device | str | None = None,
    ) -> None:
        self.patch_size = check_patch_size(patch_size)
        if not isinstance(cube, Tensor):
            cube = np.asarray(cube)
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
        if cube.ndim != 3:
            raise ValueError(
                f"cube must be 3-D (H, W, B) with bands last, got shape {tuple(cube.shape)}"
            )
        self.pad_mode = pad_mode
        self.device = _as_device(device, cube)
        height, width, bands = (int(v) for v in cube.shape)
        self.shape = (height, width)
        self.n_bands = bands
        self.pad_width = self.patch_size // 2
        g = self.pad_width
        # Index vectors from numpy.pad give any pad size, even beyond the cube's side.
        rows = np.pad(np.arange(height), g, mode=pad_mode)
        cols = np.pad(np.arange(width), g, mode=pad_mode)
        self.padded = torch.empty(
            (bands, height + 2 * g, width + 2 * g), dtype=torch.float32, device=self.device
        )
        finite = True
        step = max(1, _CHUNK_ELEMENTS // max(1, (width + 2 * g) * bands))
        for start in range(0, len(rows), step):  # row blocks: no full-size temporary
            block = _padded_rows(cube, rows[start:start + step], cols, self.device)
            finite = finite and bool(torch.isfinite(block).all())
            self.padded[:, start:start + step] = block.permute(2, 0, 1)
        if not finite:
            raise ValueError(
                "cube holds NaN or Inf values; they must not reach training. Use "
                "hsi_attn.data.preprocess.fit_preprocessor(..., nonfinite='mask') to replace "
                "them, or fix the data."
            )
        p = self.patch_size
        # (H, W, B, p, p) strided view: windows[r, c] is the patch centred on (r, c).
        self._windows = self.padded.unfold(1, p, 1).unfold(2, p, 1).permute(1, 2, 0, 3, 4)

    def __repr__(self) -> str:
        return (
            f"PatchSampler(shape={self.shape}, n_bands={self.n_bands}, "
            f"patch_size={self.patch_size}, pad_mode={self.pad_mode!r}, device={self.device})"
        )

    def check_coords(self, coords: np.ndarray | Tensor) -> Tensor:
        """Validate ``(n, 2)`` ``(row, col)`` coordinates and return them as a long tensor
        on the sampler's device.

        Raises:
            ValueError: On a wrong shape, non-integer values or pixels outside the cube.
        """
        array = coords.detach().cpu().numpy() if isinstance(coords, Tensor) else np.asarray(coords)
        if array.ndim != 2 or array.shape[1] != 2 or array.dtype.kind not in "iu":
            raise ValueError(
                f"coords must be (n, 2) integer (row, col) pixel coordinates, got dtype "
                f"{array.dtype} with shape {array.shape}"
            )
        if array.size and (
            array.min() < 0 or array[:, 0].max() >= self.shape[0]
            or array[:, 1].max() >= self.shape[1]
        ):
            raise ValueError(
                f"coords fall outside the {self.shape[0]}x{self.shape[1]} cube (rows "
                f"{array[:, 0].min()}..{array[:, 0].max()}, cols {array[:, 1].min()}.."
                f"{array[:, 1].max()})"
            )
        return torch.as_tensor(array, dtype=torch.long, device=self.device)

    def gather(self, coords: np.ndarray | Tensor, *, check: bool = True) -> Tensor:
        """Patches centred on ``coords``.

        Args:
            coords: ``(n, 2)`` ``(row, col)`` pixel coordinates of the unpadded cube.
            check: Validate the coordinates (set False for coordinates already checked
                with :meth:`check_coords`, to skip a device sync).

        Returns:
            ``(n, 1, B, p, p)`` contiguous float32 tensor on the sampler's device;
            ``out[i, 0, :, g, g]`` is the spectrum of pixel ``coords[i]``.
        """
        index = self.check_coords(coords) if check else coords
        return self._windows[index[:, 0], index[:, 1]].unsqueeze(1)


def scene_coords(shape: tuple[int, int], mask: np.ndarray | None = None) -> np.ndarray:
    """``(n, 2)`` int64 coordinates of every pixel (or of ``mask``'s True pixels), row-major."""
    if mask is None:
        rows, cols = np.indices(shape)
        return np.stack([rows.ravel(), cols.ravel()], axis=1).astype(np.int64)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != tuple(shape):
        raise ValueError(f"mask has shape {mask.shape}, expected {tuple(shape)}")
    return np.argwhere(mask).astype(np.int64)


def iter_scene_batches(
    sampler: PatchSampler,
    *,
    batch_size: int,
    mask: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, Tensor]]:
    """Yield every pixel's patch for inference, border pixels included.

    Args:
        sampler: The padded cube.
        batch_size: Patches per batch.
        mask: Optional ``(H, W)`` boolean mask restricting the pixels.

    Yields:
        ``(coords, x)``: ``(b, 2)`` int64 numpy coordinates and ``(b, 1, B, p, p)`` patches.
    """
    batch_size = int(check_int(batch_size, "batch_size"))  # type: ignore[arg-type]
    coords = scene_coords(sampler.shape, mask)
    index = sampler.check_coords(coords)
    for start in range(0, len(coords), batch_size):
        yield coords[start:start + batch_size], sampler.gather(
            index[start:start + batch_size], check=False
        )
