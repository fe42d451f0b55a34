"""Distributed training: shards, the process context, and real ``torchrun`` launches.

The launches run ``python -m torch.distributed.run --standalone --nproc-per-node 2`` on
the CPU (gloo) with this checkout first on ``PYTHONPATH``: one of ``fit`` that records
which samples each rank trained on and then fails on one rank, one of ``train_run``
that fails once and is restarted by torchrun, and one of ``hsi-attn train`` that is
killed mid-run and resumed. NCCL (CUDA) is not exercised here.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from hsi_attn.cli import main
from hsi_attn.cli.main import build_parser
from hsi_attn.config import TrainConfig
from hsi_attn.data.batches import PatchSource, shard_epoch
from hsi_attn.engine import fit, load_checkpoint
from hsi_attn.engine.distributed import DistributedContext, synchronised_batch_norm

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


# --- shards -------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), per_rank=st.integers(1, 16), world_size=st.integers(1, 4),
       seed=st.integers(0, 2**31), epoch=st.integers(0, 3))
def test_shards_are_disjoint_equal_and_deterministic(n: int, per_rank: int, world_size: int,
                                                     seed: int, epoch: int) -> None:
    batch_size = per_rank * world_size

    def shards() -> list[torch.Tensor]:
        out = []
        for rank in range(world_size):
            generator = torch.Generator().manual_seed(seed)
            for _ in range(epoch):  # earlier epochs advance the generator
                torch.randperm(n, generator=generator)
            out.append(shard_epoch(n, batch_size, rank=rank, world_size=world_size,
                                   generator=generator))
        return out

    first = shards()
    steps = n // batch_size
    assert all(s.shape == (steps, per_rank) for s in first)
    flat = torch.cat([s.flatten() for s in first])
    assert len(set(flat.tolist())) == len(flat) == steps * batch_size  # disjoint
    assert set(flat.tolist()) <= set(range(n))
    assert all(torch.equal(a, b) for a, b in zip(first, shards()))  # same seed and epoch


@settings(max_examples=15, deadline=None)
@given(n=st.integers(8, 60), world_size=st.integers(2, 3), augment=st.booleans(),
       seed=st.integers(0, 1000))
def test_each_step_of_the_ranks_is_the_single_process_batch(n: int, world_size: int,
                                                             augment: bool, seed: int) -> None:
    batch_size = 2 * world_size
    x = torch.randn(n, 1, 2, 3, 3)
    x[:, 0, 0] = torch.arange(n, dtype=torch.float32)[:, None, None]  # band 0 = the index
    source = PatchSource.from_tensors(x, torch.arange(n) % 3, batch_size=batch_size,
                                      shuffle=True, drop_last=True, augment=augment)
    single = list(source.batches(torch.Generator().manual_seed(seed)))
    ranks = [list(source.sharded(r, world_size).batches(torch.Generator().manual_seed(seed)))
             for r in range(world_size)]
    assert all(len(r) == len(single) == len(source.sharded(0, world_size)) for r in ranks)
    for step, (patches, labels) in enumerate(single):
        for rank in range(world_size):
            shard_patches, shard_labels = ranks[rank][step]
            assert torch.equal(shard_patches, patches[rank::world_size])
            assert torch.equal(shard_labels, labels[rank::world_size])
    expected = shard_epoch(n, batch_size, rank=1, world_size=world_size,
                           generator=torch.Generator().manual_seed(seed))
    seen = torch.stack([p[:, 0, 0, 1, 1] for p, _ in ranks[1]]).long()
    assert torch.equal(seen, expected)


def test_a_validation_shard_covers_its_part_of_every_sample_once() -> None:
    x = torch.arange(11, dtype=torch.float32).view(11, 1, 1, 1, 1)
    source = PatchSource.from_tensors(x, torch.zeros(11, dtype=torch.long), batch_size=4)
    seen = [int(v) for rank in range(3)
            for p, _ in source.sharded(rank, 3).batches(None) for v in p.flatten()]
    assert sorted(seen) == list(range(11))


def test_a_global_batch_must_split_evenly_and_fit_the_data() -> None:
    source = PatchSource.from_tensors(torch.zeros(10, 1, 1, 1, 1), torch.zeros(10),
                                      batch_size=6, shuffle=True)
    with pytest.raises(ValueError, match="multiple of 4 .*--batch-size 4"):
        source.sharded(0, 4)
    small = PatchSource.from_tensors(torch.zeros(3, 1, 1, 1, 1), torch.zeros(3), batch_size=4,
                                     shuffle=True)
    with pytest.raises(ValueError, match="fewer than one global batch"):
        small.sharded(0, 2)


# --- the process context -------------------------------------------------------------

def test_the_context_comes_from_torchruns_variables() -> None:
    assert DistributedContext.from_environment({}) == DistributedContext()
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "node0",
           "MASTER_PORT": "29500", "TORCHELASTIC_RESTART_COUNT": "2",
           "TORCHELASTIC_MAX_RESTARTS": "3", "TORCHELASTIC_USE_AGENT_STORE": "True"}
    context = DistributedContext.from_environment(env)
    assert (context.rank, context.world_size, context.local_rank, context.restart_count,
            context.max_restarts, context.shared_store, context.is_main) == (3, 4, 1, 2, 3,
                                                                            True, False)
    assert context.device(torch.device("cuda")) == torch.device("cuda", 1)
    assert context.device(torch.device("cuda", 1)) == torch.device("cuda", 1)  # train_run's
    assert context.device(torch.device("cpu")) == torch.device("cpu")
    assert context.backend(torch.device("cpu")) == "gloo"
    with pytest.raises(ValueError, match="pass --device cuda"):
        context.device(torch.device("cuda", 0))
    with pytest.raises(ValueError, match="MASTER_ADDR and MASTER_PORT not set; launch with"):
        DistributedContext.from_environment({"WORLD_SIZE": "2", "RANK": "1"})
    with pytest.raises(ValueError, match="RANK='x' is not an integer"):
        DistributedContext.from_environment({"RANK": "x"})
    with pytest.raises(ValueError, match="does not fit world size 2"):
        DistributedContext(rank=2, world_size=2)


def test_each_rank_draws_its_own_dropout_masks_reproducibly() -> None:
    def draw(rank: int, epoch: int) -> torch.Tensor:
        DistributedContext(rank=rank, world_size=2).seed_rank(7, epoch)
        return torch.rand(4)

    assert torch.equal(draw(1, 3), draw(1, 3))
    assert not torch.equal(draw(0, 3), draw(1, 3))
    assert not torch.equal(draw(1, 3), draw(1, 4))
    torch.manual_seed(0)
    DistributedContext().seed_rank(7, 3)  # one process: torch's generator untouched
    after = torch.rand(4)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(4))


def _tiny_batch_norm_net() -> nn.Module:
    return nn.Sequential(nn.Conv3d(1, 2, 1), nn.BatchNorm3d(2), nn.Flatten(), nn.Linear(8, 2))


def test_synchronised_batch_norm_is_swapped_in_and_back() -> None:
    model = _tiny_batch_norm_net()
    original = model[1]
    with synchronised_batch_norm(model) as swapped:
        assert swapped == 1 and isinstance(model[1], nn.SyncBatchNorm)
        assert model[1].weight is original.weight
        assert model[1].running_mean is original.running_mean
        model.eval()
    assert model[1] is original and not original.training


def test_fit_explains_what_a_distributed_run_lacks() -> None:
    x, y = torch.randn(8, 1, 1, 2, 2), torch.arange(8) % 2
    source = PatchSource.from_tensors(x, y, batch_size=4, shuffle=True, drop_last=True)
    config = TrainConfig(epochs=1, batch_size=4, device="cpu")
    two = DistributedContext(rank=0, world_size=2)
    with pytest.raises(ValueError, match="has no process group"):
        fit(_tiny_batch_norm_net(), source, config=config, distributed=two)
    synced = TrainConfig(epochs=1, batch_size=4, device="cpu", sync_batch_norm=True)
    with pytest.raises(ValueError, match="sync_batch_norm needs CUDA"):
        fit(_tiny_batch_norm_net(), source, config=synced, distributed=two)
    for wrapper in (_Unshardable, _Forwarding):  # a forwarded sharded() would skip the wrapper
        with pytest.raises(ValueError, match="cannot be split between 2 processes"):
            fit(_tiny_batch_norm_net(), wrapper(source), config=config, distributed=two)


class _Unshardable:
    """A batch source without ``sharded``."""

    def __init__(self, source: PatchSource) -> None:
        self.source, self.labels = source, source.labels

    def batches(self, generator: torch.Generator | None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.source.batches(generator)

    def __len__(self) -> int:
        return len(self.source)


class _Forwarding(_Unshardable):
    """A wrapper that forwards every other attribute to the source it wraps."""

    def __getattr__(self, name: str) -> object:
        return getattr(self.source, name)


def test_readme_torchrun_commands_parse() -> None:
    from torch.distributed.run import get_args_parser

    text = (ROOT / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    commands = [shlex.split(line.split("#", 1)[0]) for line in text.splitlines()
                if line.lstrip().startswith("torchrun ")]
    assert len(commands) >= 4, "the README's distributed section lists the torchrun commands"
    for command in commands:
        launch = get_args_parser().parse_args(command[1:])
        assert launch.module and launch.training_script == "hsi_attn.cli"
        assert build_parser().parse_args(launch.training_script_args).command == "train"


# --- torchrun launches --------------------------------------------------------------

def _environment() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _launch(args: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([*TORCHRUN, *args], cwd=cwd, env=_environment(), text=True,
                          capture_output=True, timeout=timeout)


RECORDING_WORKER = '''
import json, sys
import torch
from torch import nn
from hsi_attn.config import TrainConfig
from hsi_attn.data.batches import PatchSource
from hsi_attn.engine import Callback, fit, seed_everything
from hsi_attn.engine.distributed import DistributedContext

context = DistributedContext.from_environment()
n = 42
x = torch.randn(n, 1, 3, 3, 3, generator=torch.Generator().manual_seed(1))
x[:, 0, 0] = torch.arange(n, dtype=torch.float32)[:, None, None]  # band 0 = sample index
y = torch.arange(n) % 2


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(27, 2), nn.BatchNorm1d(2))
        self.seen = []

    def forward(self, x):
        if self.training:
            self.seen += [int(v) for v in x[:, 0, 0, 1, 1]]
        return self.net(x)


class Record(Callback):
    def on_epoch_end(self, state):
        record = {k: state.history[-1][k] for k in ("train_loss", "val_loss", "val_oa")}
        with open(f"{sys.argv[1]}/rank{context.rank}.jsonl", "a") as f:
            f.write(json.dumps({"seen": state.model.seen, **record}) + "\\n")
        state.model.seen = []
        if state.epoch == 3 and context.rank == 1:
            raise RuntimeError("injected failure on rank 1")


seed_everything(0)
model = Net()
train = PatchSource.from_tensors(x, y, batch_size=8, shuffle=True, drop_last=True, augment=True)
val = PatchSource.from_tensors(x[:13], y[:13], batch_size=4)
with context.process_group(torch.device("cpu")):
    fit(model, train, config=TrainConfig(epochs=6, batch_size=8, lr=0.01, device="cpu"),
        val_data=val, callbacks=[Record()], distributed=context)
'''


def test_ranks_train_on_disjoint_shards_and_a_failure_stops_them_all(tmp_path: Path) -> None:
    worker = tmp_path / "worker.py"
    worker.write_text(RECORDING_WORKER, encoding="utf-8")
    done = _launch([str(worker), str(tmp_path)], tmp_path)
    assert done.returncode != 0
    assert "injected failure on rank 1" in done.stdout + done.stderr
    ranks = [[json.loads(line) for line in (tmp_path / f"rank{r}.jsonl").read_text().splitlines()]
             for r in (0, 1)]
    assert len(ranks[1]) == 3 and len(ranks[0]) >= 2  # rank 1 failed after epoch 3
    for epoch in range(2):
        zero, one = ranks[0][epoch], ranks[1][epoch]
        assert len(zero["seen"]) == len(one["seen"]) == 20  # 5 steps of 4 of 8
        assert not set(zero["seen"]) & set(one["seen"])
        assert len(set(zero["seen"]) | set(one["seen"])) == 40
        # Every rank takes the same decisions: the same validation and training figures.
        assert {k: zero[k] for k in zero if k != "seen"} == {k: one[k] for k in one
                                                             if k != "seen"}
    assert ranks[0][0]["seen"] != ranks[0][1]["seen"]  # a new shard every epoch


def _write_tiny_cube(folder: Path) -> list[str]:
    rng = np.random.default_rng(0)
    gt = np.repeat(np.repeat(np.arange(1, 4), 7)[None, :20], 20, axis=0).astype(np.int64)
    gt[rng.random(gt.shape) < 0.1] = 0
    signatures = rng.normal(size=(3, 8)).astype(np.float32)
    cube = signatures[np.clip(gt - 1, 0, 2)] + rng.normal(scale=1.2, size=(20, 20, 8))
    np.save(folder / "cube.npy", cube.astype(np.float32))
    np.save(folder / "gt.npy", gt)
    return ["--cube", str(folder / "cube.npy"), "--gt", str(folder / "gt.npy"), "--pca", "none",
            "--patch-size", "5", "--train-size", "0.3", "--val-size", "0.2", "--batch-size", "16",
            "--lr", "0.01", "--device", "cpu", "--eval-batch-size", "64"]


RESTARTED_WORKER = '''
import logging, sys
from hsi_attn.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from hsi_attn.engine import Callback
from hsi_attn.engine.distributed import DistributedContext
from hsi_attn.run import train_run

logging.basicConfig(level=logging.INFO)
context = DistributedContext.from_environment()


class FailOnce(Callback):
    def on_epoch_end(self, state):
        if state.epoch == 2 and context.rank == 1 and context.restart_count == 0:
            raise RuntimeError("injected failure before the restart")


folder = sys.argv[1]
config = RunConfig(
    data=DataConfig(scene="cube", cube_path=f"{folder}/cube.npy", gt_path=f"{folder}/gt.npy",
                    pca=None, train_size=0.3, val_size=0.2),
    model=ModelConfig(patch_size=5),
    train=TrainConfig(epochs=4, batch_size=16, lr=0.01, device="cpu", eval_batch_size=64),
)
train_run(config, f"{folder}/run", callbacks=[FailOnce()])
'''


def test_torchrun_restarts_resume_from_the_last_checkpoint(tmp_path: Path) -> None:
    worker = tmp_path / "worker.py"
    worker.write_text(RESTARTED_WORKER, encoding="utf-8")
    _write_tiny_cube(tmp_path)
    done = _launch(["--max-restarts", "1", str(worker), str(tmp_path)], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "injected failure before the restart" in done.stderr
    assert "resuming the run in" in done.stderr  # not a new run: that would be refused
    out = tmp_path / "run"
    assert len((out / "history.csv").read_text().splitlines()) == 1 + 4
    assert (out / "metrics.json").is_file()


def test_hsi_attn_train_under_torchrun_killed_and_resumed(tmp_path: Path) -> None:
    options = [*_write_tiny_cube(tmp_path), "--epochs", "30"]
    runs = tmp_path / "runs"
    out = runs / "cube-random-resnet3d-eca_band-seed0"  # the default name: rank 0 picks it
    command = [*TORCHRUN, "-m", "hsi_attn.cli", "train", *options]
    launcher = subprocess.Popen(command, cwd=tmp_path, env=_environment(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    try:
        while not _checkpointed_epochs(out / "checkpoint.pt"):
            assert launcher.poll() is None, launcher.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "no checkpoint after the first epoch"
            time.sleep(0.05)
    finally:
        # As a scheduler or Ctrl-C would: torchrun passes the signal to its workers.
        launcher.send_signal(signal.SIGTERM)
        launcher.communicate(timeout=120)
    assert not load_checkpoint(out / "checkpoint.pt")["finished"]
    assert not (out / "metrics.json").exists()

    resumed = subprocess.run([*command, "--out", str(out), "--resume"], cwd=tmp_path,
                             env=_environment(), text=True, capture_output=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("run directory:") == 1  # only rank 0 reports
    assert "resuming after epoch" in resumed.stderr
    assert list(runs.iterdir()) == [out]  # one run directory, written by rank 0 alone
    assert json.loads((out / "config.json").read_text())["world_size"] == 2
    assert len((out / "history.csv").read_text().splitlines()) == 1 + 30
    two = json.loads((out / "metrics.json").read_text())["test"]["oa"]

    # One process, the same global batch: the same data per step, so the same result up
    # to batch-norm statistics (per process of 8 vs over 16) and rounding.
    threads = torch.get_num_threads()
    try:  # one thread, as the workers have: two spin badly on a loaded machine
        assert main(["train", *options, "--out", str(tmp_path / "one"), "--quiet",
                     "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())["test"]["oa"]
    assert abs(two - one) <= 0.05, (two, one)  # 179 test pixels: one is 0.0056

    # The interruption changed nothing: the same history as an uninterrupted launch.
    whole = tmp_path / "uninterrupted"
    done = subprocess.run([*command, "--out", str(whole), "--quiet"], cwd=tmp_path,
                          env=_environment(), text=True, capture_output=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _figures(whole / "history.csv") == _figures(out / "history.csv")


def _figures(history: Path) -> list[list[str]]:
    """The history's rows without its timing columns."""
    rows = [line.split(",") for line in history.read_text().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if "seconds" not in name]
    return [[row[i] for i in keep] for row in rows]


def _checkpointed_epochs(path: Path) -> int:
    try:
        return int(load_checkpoint(path)["epoch"])
    except (ValueError, OSError):
        return 0
