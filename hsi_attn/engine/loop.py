"""The training loop: :func:`fit`, plus :func:`evaluate` and :func:`predict_logits`.

The loop is deliberately short. Everything optional (early stopping, keeping the best
weights, checkpoints, progress, logging, Optuna pruning) is a callback; see
:mod:`hsi_attn.engine.callbacks`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, fields
from typing import Any

import torch
from torch import nn

from hsi_attn.config import TrainConfig
from hsi_attn.engine.evaluation_mode import evaluation_mode
from hsi_attn.engine.callbacks import Callback, CallbackList, Checkpoint
from hsi_attn.engine.checkpoint import CheckpointError, load_checkpoint
from hsi_attn.engine.device import resolve_device
from hsi_attn.engine.distributed import DistributedContext
from hsi_attn.engine.history import History
from hsi_attn.engine.optimization import build_optimizer, build_scheduler, class_weights
from hsi_attn.engine.precision import Precision, resolve_precision
from hsi_attn.engine.seeding import restore_rng_state, seed_everything
from hsi_attn.engine.sources import BatchSource
from hsi_attn.engine.state import TrainState

__all__ = ["evaluate", "fit", "predict_logits"]

logger = logging.getLogger(__name__)

# Settings that may differ between an interrupted run and its resumption.
_RESUME_MAY_CHANGE = frozenset(
    item.name for item in fields(TrainConfig) if item.metadata.get("may_change_on_resume")
)


def fit(
    model: nn.Module,
    train_data: BatchSource,
    *,
    config: TrainConfig,
    val_data: BatchSource | None = None,
    callbacks: Iterable[Callback] = (),
    device: str | torch.device | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    resume: bool = False,
    extra: dict[str, Any] | None = None,
    distributed: DistributedContext | None = None,
) -> History:
    """Train ``model`` in place and return its per-epoch history.

    Seeds python, numpy and torch with ``config.seed`` (seed them yourself with
    :func:`~hsi_attn.engine.seed_everything` *before* building the model, so its initial
    weights are reproducible too) and orders the data with a generator of that seed.
    The same seed on the same device gives the same history; on the CPU it is
    bit-identical, also across an interruption and ``resume=True``.

    Args:
        model: Module mapping a batch ``x`` to logits ``(N, K)``.
        train_data: Training :class:`~hsi_attn.engine.sources.BatchSource`.
        config: Optimisation settings (epochs, lr, schedule, precision, seed...).
        val_data: Validation source for ``val_loss``/``val_oa`` (never the test set).
        callbacks: Extra callbacks, called after the built-in ones of lower ``order``.
        device: Overrides ``config.device`` (``"auto"``, ``"cpu"``, ``"cuda:1"``...).
        checkpoint_path: Write a checkpoint there at the start, every epoch and at the end.
        resume: Continue from ``checkpoint_path`` (which must exist). A finished
            checkpoint just loads its weights and history.
        extra: Caller data stored in every checkpoint under ``"extra"``.
        distributed: This process's place among several (``torchrun``), inside a joined
            process group (see :class:`~hsi_attn.engine.distributed.DistributedContext`).
            Each rank then trains on its shard of every global batch of
            ``config.batch_size`` (``batch_size // world_size`` samples each; the sources
            must be :class:`~hsi_attn.engine.sources.ShardableSource`), the model is
            wrapped in DDP, validation is summed over the ranks so that every rank takes
            the same decisions, and only rank 0 writes the checkpoint. The learning rate
            is used as given. Default: one process, exactly as without this argument.

    Returns:
        The history (also on ``model``'s final checkpoint).

    Raises:
        ValueError: On bad settings (unknown optimiser, unavailable device...), a
            non-finite loss, or a resume checkpoint whose settings differ.
        CheckpointError: If ``resume`` is set and the checkpoint is missing or corrupt.
        KeyboardInterrupt: After Ctrl-C; the last completed epoch's checkpoint is on disk.
    """
    if config.epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {config.epochs}")
    if len(train_data) == 0:
        raise ValueError("the training data yields no batches; check batch_size and the split")
    if resume and checkpoint_path is None:
        raise ValueError("resume=True needs the checkpoint_path to resume from")
    context = distributed if distributed is not None else DistributedContext()
    if context.is_distributed:
        train_data, val_data = context.shards(train_data, val_data)
    target = context.device(resolve_device(device if device is not None else config.device))
    precision = resolve_precision(config.precision, target)
    model.to(target)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, len(train_data))
    writes = checkpoint_path is not None and context.is_main
    built_in: list[Callback] = [Checkpoint(checkpoint_path)] if writes else []
    dispatcher = CallbackList([*built_in, *callbacks])
    state = TrainState(
        model=model, optimizer=optimizer, scheduler=scheduler, scaler=precision.make_scaler(),
        config=config, device=target, generator=seed_everything(config.seed),
        callbacks=dispatcher, extra=dict(extra or {}),
    )
    if resume:
        if _resume(state, checkpoint_path):
            return state.history
    if context.is_main:
        logger.info(
            "training on %s (%s) for %d epochs, %d batches per epoch%s%s",
            target, precision.name, config.epochs, len(train_data),
            context.describe_split(config.batch_size, config.lr),
            f", resuming after epoch {state.epoch}" if state.epoch else "",
        )
    with context.training(model, target, sync_batch_norm=config.sync_batch_norm) as wrapped:
        forward = torch.compile(wrapped) if config.compile else wrapped
        _epochs(state, forward, train_data, val_data, precision, context, checkpoint_path)
    return state.history


def _epochs(state: TrainState, forward: nn.Module, train_data: BatchSource,
            val_data: BatchSource | None, precision: Precision, context: DistributedContext,
            checkpoint_path: str | os.PathLike[str] | None) -> None:
    """The epochs of :func:`fit`, with the callbacks' hooks around them."""
    config, dispatcher, target = state.config, state.callbacks, state.device
    criterion_holder: list[nn.Module] = []
    try:
        dispatcher.call("on_train_begin", state)
        while state.epoch < config.epochs and not state.stop_training:
            state.epoch += 1
            state.batch = 0
            context.synchronise_generator(state.generator, target)
            context.seed_rank(config.seed, state.epoch)
            dispatcher.call("on_epoch_begin", state)
            started = time.perf_counter()
            lr = state.optimizer.param_groups[0]["lr"]
            train_loss, train_acc = _train_epoch(
                state, forward, train_data, precision, criterion_holder, context
            )
            record: dict[str, Any] = {
                "epoch": state.epoch, "train_loss": train_loss, "train_acc": train_acc,
                "train_seconds": time.perf_counter() - started,
            }
            if val_data is not None and context.is_distributed:
                val_loss, val_oa = _evaluate_shards(state.model, val_data, precision, context)
                record.update(val_loss=val_loss, val_oa=val_oa)
            elif val_data is not None:
                val_loss, val_oa = evaluate(forward, val_data, device=target, precision=precision)
                record.update(val_loss=val_loss, val_oa=val_oa)
            record.update(lr=lr, seconds=time.perf_counter() - started)
            state.history.append(record)
            dispatcher.call("on_epoch_end", state)
            if context.any(state.stop_training, target) and not state.stop_training:
                state.stop_training = True
                state.stop_reason = "another rank stopped training"
        state.completed = True
        if state.stop_reason:
            logger.info("stopped after epoch %d: %s", state.epoch, state.stop_reason)
    except KeyboardInterrupt:
        if checkpoint_path is not None:
            logger.warning(
                "interrupted during epoch %d; the checkpoint of epoch %d is in %s; "
                "resume to continue", state.epoch, len(state.history), checkpoint_path,
            )
        raise
    finally:
        dispatcher.call("on_train_end", state)


def _train_epoch(
    state: TrainState,
    forward: nn.Module,
    data: BatchSource,
    precision: Precision,
    criterion_holder: list[nn.Module],
    context: DistributedContext,
) -> tuple[float, float]:
    state.model.train()
    config = state.config
    loss_sum = torch.zeros((), dtype=torch.float64, device=state.device)
    correct = torch.zeros((), dtype=torch.int64, device=state.device)
    seen = 0
    for x, y in data.batches(state.generator):
        x = x.to(state.device, non_blocking=True)
        y = y.to(state.device, non_blocking=True)
        state.optimizer.zero_grad(set_to_none=True)
        with precision.autocast():
            logits = forward(x)
        if not criterion_holder:
            criterion_holder.append(_make_criterion(config, data, logits.shape[1], state.device))
        loss = criterion_holder[0](logits.float(), y)
        if not torch.isfinite(loss):
            raise ValueError(
                f"the training loss became {loss.item()} at epoch {state.epoch}, batch "
                f"{state.batch + 1}; lower the learning rate (lr={config.lr}) or use fp32"
            )
        if state.scaler is not None:
            state.scaler.scale(loss).backward()
            state.scaler.unscale_(state.optimizer)
            _clip(state)
            state.scaler.step(state.optimizer)
            state.scaler.update()
        else:
            loss.backward()
            _clip(state)
            state.optimizer.step()
        if state.scheduler is not None:
            state.scheduler.step()
        n = len(y)
        loss_sum += loss.detach().double() * n
        # Soft labels (mixup, (N, K) probabilities) count as their most likely class.
        hard = y.argmax(dim=1) if y.ndim == 2 else y
        correct += (logits.detach().argmax(dim=1) == hard).sum()
        seen += n
        state.batch += 1
        state.batch_loss = float(loss.detach())
        state.callbacks.call("on_batch_end", state)
    if context.is_distributed:  # the epoch's figures over all ranks, the same on each
        totals = context.all_reduce_sum(torch.stack(
            [loss_sum, correct.double(), torch.tensor(float(seen), device=state.device,
                                                      dtype=torch.float64)]))
        loss_sum, correct, seen = totals[0], totals[1].round().long(), int(totals[2])
    return float(loss_sum) / seen, int(correct) / seen


def _clip(state: TrainState) -> None:
    if state.config.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(state.model.parameters(), state.config.grad_clip)


def _make_criterion(
    config: TrainConfig, data: BatchSource, n_outputs: int, device: torch.device
) -> nn.Module:
    weight = None
    if config.class_weights:
        labels = getattr(data, "labels", None)
        if labels is None:
            raise ValueError("class_weights=True needs a training source with a `labels` tensor")
        weight = class_weights(labels, n_outputs).to(device)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    batches: Iterable[torch.Tensor | tuple[torch.Tensor, ...]],
    *,
    device: torch.device | None = None,
    precision: Precision | None = None,
) -> Iterator[torch.Tensor]:
    """Yield float32 logits for each batch (model in eval mode, no gradients).

    Args:
        model: The trained module.
        batches: Tensors, or tuples whose first item is the input.
        device: Where to run (default: where the model's parameters are).
        precision: Autocast policy (default fp32).
    """
    model.eval()
    if device is None:
        device = next(iter(model.parameters()), torch.empty(0)).device
    for batch in batches:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        x = x.to(device, non_blocking=True)
        if precision is None:
            yield model(x).float()
        else:
            with precision.autocast():
                yield model(x).float()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: BatchSource,
    *,
    device: torch.device | None = None,
    precision: Precision | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy and overall accuracy of ``model`` on ``data``.

    Restores each module's train/eval mode afterwards.
    """
    loss_sum, correct, seen = _evaluation_sums(model, data, device=device, precision=precision)
    return loss_sum / max(seen, 1), correct / max(seen, 1)


def _evaluate_shards(model: nn.Module, data: BatchSource, precision: Precision,
                     context: DistributedContext) -> tuple[float, float]:
    """Loss and OA over every rank's validation shard, the same on every rank.

    Rank 0's batch-norm statistics are used everywhere (those it checkpoints); the
    plain model runs each shard (DDP's forward would wait for the other ranks).
    """
    context.broadcast_buffers(model)
    device = next(iter(model.parameters()), torch.empty(0)).device
    sums = _evaluation_sums(model, data, device=device, precision=precision)
    loss_sum, correct, seen = context.all_reduce_sum(
        torch.tensor(sums, dtype=torch.float64, device=device)).tolist()
    return loss_sum / max(seen, 1), round(correct) / max(seen, 1)


@torch.no_grad()
def _evaluation_sums(
    model: nn.Module,
    data: BatchSource,
    *,
    device: torch.device | None = None,
    precision: Precision | None = None,
) -> tuple[float, int, int]:
    """Summed cross-entropy, correct predictions and samples of ``model`` on ``data``."""
    if device is None:
        device = next(iter(model.parameters()), torch.empty(0)).device
    loss_sum, correct, seen = 0.0, 0, 0
    with evaluation_mode(model):
        for x, y in data.batches(None):
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            if precision is None:
                logits = model(x).float()
            else:
                with precision.autocast():
                    logits = model(x).float()
            loss_sum += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(dim=1) == y).sum())
            seen += len(y)
    return loss_sum, correct, seen


def _resume(state: TrainState, path: str | os.PathLike[str] | None) -> bool:
    """Load ``path`` into ``state``; True if that checkpoint had already finished."""
    payload = load_checkpoint(path, map_location="cpu")
    # Settings added since the checkpoint was written count as their defaults.
    saved = {**asdict(TrainConfig()), **payload.get("config", {})}
    current = asdict(state.config)
    changed = [
        f"{k}: {saved.get(k)!r} -> {current[k]!r}"
        for k in current if k not in _RESUME_MAY_CHANGE and saved.get(k) != current[k]
    ]
    if changed:
        raise ValueError(
            f"cannot resume from {str(path)!r}: the training settings differ from the "
            f"checkpoint's ({'; '.join(changed)}); use the original settings or start a new run"
        )
    try:
        state.model.load_state_dict(payload["model"])
        state.history = History.from_records(payload["history"])
        state.epoch = int(payload["epoch"])
        if payload["finished"]:
            state.completed = True
            logger.info("checkpoint %s has finished training; nothing to resume", path)
            return True
        state.optimizer.load_state_dict(payload["optimizer"])
        if state.scheduler is not None and payload["scheduler"] is not None:
            state.scheduler.load_state_dict(payload["scheduler"])
        if state.scaler is not None and payload.get("scaler") is not None:
            state.scaler.load_state_dict(payload["scaler"])
        state.callbacks.load_state_dict(payload.get("callbacks", {}))
        restore_rng_state(payload["rng"], state.generator)
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not match this model or is incomplete "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from exc
    return False


