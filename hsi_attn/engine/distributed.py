"""Training on several processes: which process this is, and the collectives the loop needs.

Launched by ``torchrun`` (``python -m torch.distributed.run``), every process runs the
same program; :meth:`DistributedContext.from_environment` reads who it is from the
variables torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``, ``TORCHELASTIC_RESTART_COUNT``, ``TORCHELASTIC_MAX_RESTARTS``). Without
torchrun those are absent and the context is a single process: nothing here is called
and training is exactly what it is without this module.

Decisions, the same as PyTorch's ``DistributedSampler`` and ``DistributedDataParallel``:

* **backend**: gloo on the CPU, NCCL on CUDA with one GPU per process
  (``cuda:LOCAL_RANK``);
* **the same decisions on every rank**: validation metrics and the training loss are
  summed over ranks (:meth:`DistributedContext.all_reduce_sum`) and a stop requested on
  any rank stops all (:meth:`DistributedContext.any`); batch-norm running statistics
  are taken from rank 0 before validation (:meth:`DistributedContext.broadcast_buffers`),
  as DDP does before every training step;
* **dropout differs per rank**: torch's generators are seeded from the seed, the epoch
  and the rank at each epoch (:meth:`DistributedContext.seed_rank`);
* **rank 0 writes**: work only rank 0 does (the run directory, the final scoring) goes
  through :meth:`DistributedContext.on_main`, which hands its result, or its error, to
  every rank, so no rank waits for a result that will never come;
* **no hang**: when a process fails, torchrun stops the others; the process group also
  has a :attr:`~DistributedContext.timeout` (30 minutes by default), after which a
  collective that waits for a dead peer raises instead of waiting forever.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import pickle
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from hsi_attn.engine.sources import BatchSource, ShardableSource

__all__ = ["DEFAULT_TIMEOUT", "DistributedContext", "synchronised_batch_norm"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)
"""How long a collective waits for the other ranks before it raises."""


@dataclass(frozen=True)
class DistributedContext:
    """Who this process is among the processes of one training run.

    Attributes:
        rank: This process's global rank, ``0 .. world_size - 1``.
        world_size: Number of processes.
        local_rank: Rank on this machine (the GPU index with CUDA).
        restart_count: How often torchrun has restarted the workers (``--max-restarts``).
        max_restarts: How often torchrun may restart them.
        shared_store: Whether the workers use torchrun's own key-value store, which
            outlives a restart (``TORCHELASTIC_USE_AGENT_STORE``).
        timeout: How long a collective waits for the other ranks.

    Raises:
        ValueError: If the ranks do not fit the world size.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    restart_count: int = 0
    max_restarts: int = 0
    shared_store: bool = False
    timeout: datetime.timedelta = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size or self.local_rank < 0:
            raise ValueError(
                f"rank {self.rank} (local {self.local_rank}) does not fit world size "
                f"{self.world_size}; launch with torchrun, which sets RANK, LOCAL_RANK and "
                "WORLD_SIZE consistently"
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> DistributedContext:
        """The context torchrun describes in the environment; one process without it.

        Args:
            environ: Variables to read (default ``os.environ``).

        Raises:
            ValueError: If a variable is not an integer, or ``WORLD_SIZE`` > 1 without the
                rendezvous address (``MASTER_ADDR``, ``MASTER_PORT``).
        """
        env = os.environ if environ is None else environ
        values = {name: _integer(env, variable, default) for name, variable, default in (
            ("rank", "RANK", 0), ("world_size", "WORLD_SIZE", 1),
            ("local_rank", "LOCAL_RANK", 0), ("restart_count", "TORCHELASTIC_RESTART_COUNT", 0),
            ("max_restarts", "TORCHELASTIC_MAX_RESTARTS", 0))}
        if values["world_size"] > 1:
            missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if not env.get(v)]
            if missing:
                raise ValueError(
                    f"WORLD_SIZE is {values['world_size']} but {' and '.join(missing)} "
                    "not set; launch with torchrun (python -m torch.distributed.run), "
                    "which sets them"
                )
        return cls(**values, shared_store=env.get("TORCHELASTIC_USE_AGENT_STORE") == "True")

    @property
    def is_distributed(self) -> bool:
        """True with more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes files and reports."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """The device of this rank: ``cuda:LOCAL_RANK`` for CUDA, ``device`` otherwise.

        Raises:
            ValueError: If ``device`` names another GPU than ``cuda:LOCAL_RANK``.
        """
        if not self.is_distributed or device.type != "cuda":
            return device
        if device.index not in (None, self.local_rank):
            raise ValueError(
                f"device {str(device)!r} is not the GPU of local rank {self.local_rank}: "
                "under torchrun each process takes cuda:LOCAL_RANK, so pass --device cuda "
                "(or auto), and CUDA_VISIBLE_DEVICES to choose the GPUs"
            )
        return torch.device("cuda", self.local_rank)

    def shards(self, train_data: BatchSource, val_data: BatchSource | None
               ) -> tuple[BatchSource, BatchSource | None]:
        """This rank's shards of the training and validation sources.

        Raises:
            ValueError: If a source cannot be sharded, or the training shard is empty.
        """
        shards = []
        for name, source in (("training", train_data), ("validation", val_data)):
            # On the class: a wrapper forwarding attributes would shard what it wraps
            # and silently drop its own work.
            if source is not None and not (isinstance(source, ShardableSource) and callable(
                    getattr(type(source), "sharded", None))):
                raise ValueError(
                    f"the {name} source ({type(source).__name__}) cannot be split between "
                    f"{self.world_size} processes: it has no sharded(rank, world_size); use "
                    "hsi_attn.data.PatchSource"
                )
            shards.append(None if source is None else source.sharded(self.rank, self.world_size))
        if len(shards[0]) == 0:
            raise ValueError("the training shard yields no batches; lower --batch-size")
        return shards[0], shards[1]

    def describe_split(self, batch_size: int, lr: float) -> str:
        """How a global batch is split, for the log ("" for one process)."""
        if not self.is_distributed:
            return ""
        return (f", {self.world_size} processes with {batch_size // self.world_size} samples "
                f"each of every global batch of {batch_size} (lr {lr:g} as given, not "
                "rescaled)")

    def synchronise_generator(self, generator: torch.Generator, device: torch.device) -> None:
        """Give every rank rank 0's data-order generator (at each epoch's start).

        The ranks' generators agree anyway when the sources draw the same numbers on
        every rank (``PatchSource`` does); this keeps the shards disjoint even when a
        source draws per rank.
        """
        if not self.is_distributed:
            return
        state = generator.get_state().to(device)
        dist.broadcast(state, src=0)
        generator.set_state(state.cpu())

    def seed_rank(self, seed: int, epoch: int) -> None:
        """Seed torch's own generators (dropout) for ``epoch`` differently on each rank.

        Without it every rank would draw the same dropout masks for its share of the
        batch. Derived from ``(seed, epoch, rank)`` alone, so a resumed run draws what
        the uninterrupted one did. The data order has its own generator, untouched.
        """
        if self.is_distributed:
            entropy = np.random.SeedSequence([seed, epoch, self.rank]).generate_state(1)[0]
            torch.manual_seed(int(entropy))

    @staticmethod
    def backend(device: torch.device) -> str:
        """``"nccl"`` for CUDA, ``"gloo"`` otherwise."""
        return "nccl" if device.type == "cuda" else "gloo"

    @contextlib.contextmanager
    def process_group(self, device: torch.device) -> Iterator[None]:
        """Join the default process group for the block (no-op for one process).

        A group that the caller already started is used and left running.
        """
        if not self.is_distributed or dist.is_initialized():
            yield
            return
        backend = self.backend(device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        store, _, _ = next(dist.rendezvous("env://", rank=self.rank, world_size=self.world_size,
                                           timeout=self.timeout))
        if self.shared_store:
            # torchrun's store keeps the previous attempt's addresses: a restarted rank
            # would read them and fail to connect (pytorch#135712). One key space per attempt.
            store = dist.PrefixStore(f"hsi_attn/attempt{self.restart_count}", store)
        dist.init_process_group(backend=backend, store=store, rank=self.rank,
                                world_size=self.world_size, timeout=self.timeout)
        logger.debug("rank %d/%d joined the %s process group", self.rank, self.world_size,
                     backend)
        try:
            yield
        except BaseException:
            dist.destroy_process_group()
            raise
        # Every rank reaches here before any tears its group down: a rank that destroyed
        # its group while a peer still received (the result broadcast) aborted both
        # processes at exit ("terminate called without an active exception").
        dist.barrier()
        dist.destroy_process_group()

    def all_reduce_sum(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` summed over every rank (a new tensor; ``values`` itself otherwise)."""
        if not self.is_distributed:
            return values
        total = values.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank if ``flag`` is True on any rank."""
        if not self.is_distributed:
            return flag
        votes = torch.tensor([int(flag)], dtype=torch.int64, device=device)
        return bool(self.all_reduce_sum(votes).item() > 0)

    def broadcast_buffers(self, model: nn.Module) -> None:
        """Give every rank rank 0's buffers (batch-norm running statistics)."""
        if not self.is_distributed:
            return
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)

    def on_main(self, work: Callable[[], T]) -> T:
        """Run ``work`` on rank 0 only and give its result, or its error, to every rank.

        Raises:
            Exception: Whatever ``work`` raised, on every rank.
        """
        if not self.is_distributed:
            return work()
        outcome: list[Any] = [None]
        if self.is_main:
            try:
                outcome[0] = ("result", work())
            except Exception as error:  # noqa: BLE001 - handed to every rank below
                outcome[0] = ("error", _picklable(error))
        dist.broadcast_object_list(outcome, src=0)
        kind, value = outcome[0]
        if kind == "error":
            raise value
        return value

    @contextlib.contextmanager
    def training(self, model: nn.Module, device: torch.device, *,
                 sync_batch_norm: bool = False) -> Iterator[nn.Module]:
        """The module to train for the block: ``model`` itself, or wrapped in DDP.

        Args:
            model: The module, already on ``device``.
            device: This rank's device.
            sync_batch_norm: Batch norm over the global batch
                (:func:`synchronised_batch_norm`, CUDA only) for the block.

        Raises:
            ValueError: If synchronised batch norm is asked for on a device other than
                CUDA, or there is no process group.
        """
        if not self.is_distributed:
            if sync_batch_norm:
                logger.warning("sync_batch_norm has no effect in a single process")
            yield model
            return
        if sync_batch_norm and device.type != "cuda":
            raise ValueError(
                f"sync_batch_norm needs CUDA devices: torch's SyncBatchNorm does not run on "
                f"{device.type}; train without it (--no-sync-batch-norm) or on GPUs"
            )
        with contextlib.ExitStack() as stack:
            if sync_batch_norm:
                stack.enter_context(synchronised_batch_norm(model))
            yield self._wrap(model, device)

    def _wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        if not dist.is_initialized():
            raise ValueError(
                f"rank {self.rank} of {self.world_size} has no process group; train inside "
                "DistributedContext.process_group(device), or call hsi_attn.run.train_run, "
                "which joins it"
            )
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)


@contextlib.contextmanager
def synchronised_batch_norm(model: nn.Module) -> Iterator[int]:
    """Swap every batch norm of ``model`` for a :class:`~torch.nn.SyncBatchNorm` for the block.

    The synchronised layers share the parameters and running statistics of the
    originals, which are put back when the block ends, so the trained model has its own
    layer types again (what inference and batch-norm folding expect).

    Yields:
        The number of layers swapped.
    """
    swapped: list[tuple[nn.Module, str, nn.Module, nn.Module]] = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(
                    child, nn.SyncBatchNorm):
                synced = nn.SyncBatchNorm.convert_sync_batchnorm(child)
                parent._modules[name] = synced
                swapped.append((parent, name, child, synced))
    try:
        yield len(swapped)
    finally:
        for parent, name, child, synced in swapped:
            child.train(synced.training)
            parent._modules[name] = child


def _picklable(error: Exception) -> Exception:
    """``error``, or a RuntimeError with its message if it cannot travel to other ranks."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001 - any failure to round-trip
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r} is not an integer; "
                         "launch with torchrun, which sets it") from None
