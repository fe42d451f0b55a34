"""``run_study``: create or resume a study, run its workers, retrain the best, write outputs.

The order is fixed:

1. validate the arguments (trial count, sampler and pruner names, search space);
2. open the storage and create the study, or load it (``load_if_exists=True``) and check
   it was created for the same scene, base configuration and search space;
3. fail the trials a killed worker left RUNNING and re-queue their parameters;
4. run the workers until ``n_trials`` trials are finished (complete or pruned);
5. retrain the best configuration once on the training split and evaluate it once on
   the test split (:func:`hsi_attn.run.train_run`; skipped when the retrain in
   ``best_run/`` already matches the best configuration);
6. write ``best_params.json``, ``trials.csv`` and the plots.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hsi_attn import __version__
from hsi_attn.config import RunConfig
from hsi_attn.engine import resolve_device
from hsi_attn.engine.atomic import write_json_atomic
from hsi_attn.layers import accepted_options
from hsi_attn.registry import lookup
from hsi_attn.tuning.objective import load_study_scene
from hsi_attn.tuning.outputs import write_plots, write_trials_csv
from hsi_attn.tuning.pruners import PRUNERS
from hsi_attn.tuning.recovery import recover_stale_trials
from hsi_attn.tuning.samplers import SAMPLERS
from hsi_attn.tuning.search_space import SearchSpace, load_search_space, suggest_config
from hsi_attn.tuning.storage import StorageSpec, resolve_storage
from hsi_attn.tuning.workers import FINISHED, WorkerSpec, run_workers

__all__ = ["StudyResult", "default_study_name", "run_study"]

logger = logging.getLogger(__name__)

_SETTINGS_ATTR = "hsi_attn_settings"


@dataclass(frozen=True)
class StudyResult:
    """What :func:`run_study` produced.

    Attributes:
        study_name: The study.
        storage: Where it lives (password hidden).
        study_dir: The output directory.
        best_trial: Number of the best trial.
        best_params: Its sampled parameters.
        best_value: Its validation overall accuracy.
        best_config: The full configuration of the best trial.
        test_oa: Test OA of the best configuration retrained once (None without retrain).
        retrain_val_oa: Best validation OA of that retrain (None without retrain).
        counts: Trials per state name.
        files: Output files by name.
    """

    study_name: str
    storage: str
    study_dir: Path
    best_trial: int
    best_params: dict[str, Any]
    best_value: float
    best_config: RunConfig
    test_oa: float | None
    retrain_val_oa: float | None
    counts: dict[str, int]
    files: dict[str, Path]


def _scene_name(scene: Any, base: RunConfig) -> str:
    if scene is None:
        return base.data.scene
    return scene if isinstance(scene, str) else str(scene.name)


def default_study_name(scene_name: str, base: RunConfig, space: SearchSpace) -> str:
    """``<scene>-<model>-<attention[+attention...]>``."""
    attentions = "+".join(space.attentions) if space.attentions else base.model.attention
    return f"{scene_name}-{base.model.name}-{attentions}"


def _settings(scene_name: str, base: RunConfig, space: SearchSpace) -> dict[str, Any]:
    # Where and how fast a trial runs (the settings that may change on resume) may
    # differ between the processes and machines of one study.
    config = base.without_resumable()
    return json.loads(json.dumps({"scene": scene_name, "base_config": config,
                                  "search_space": space.to_dict()}))


def _check_settings(study: optuna.Study, settings: dict[str, Any], storage: StorageSpec) -> None:
    saved = study.user_attrs.get(_SETTINGS_ATTR)
    if saved is None:
        study.set_user_attr(_SETTINGS_ATTR, settings)
        return
    if saved == settings:
        return
    changes = _diff(saved, settings)
    raise ValueError(
        f"study {study.study_name!r} in {storage.display} was created with other settings "
        f"({'; '.join(changes[:6])}); repeat the original options to resume it, or pass "
        "another --study-name (or --out) to start a new study"
    )


def _diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out += _diff(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def _check_space(space: SearchSpace, base: RunConfig) -> None:
    """Fail now, not in trial 7, on attentions or patch sizes the model cannot take."""
    from hsi_attn.models import list_models

    lookup(dict.fromkeys(list_models()), base.model.name, kind="model")
    attentions = space.attentions or (base.model.attention,)
    for name in attentions:
        accepted_options(name)  # ValueError for unknown names


def run_study(
    scene: Any = None,
    *,
    study_dir: str | os.PathLike[str],
    base_config: RunConfig | None = None,
    attentions: list[str] | tuple[str, ...] | None = None,
    search_space: SearchSpace | str | os.PathLike[str] | None = None,
    n_trials: int = 20,
    timeout: float | None = None,
    seed: int | None = None,
    sampler_seed: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    pruner: str = "median",
    sampler: str = "tpe",
    workers: int = 1,
    retrain: bool = True,
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    device: str | None = None,
    command: str | None = None,
) -> StudyResult:
    """Tune the attention (and optimiser) of one model on one scene with Optuna.

    Re-running with the same arguments resumes the study: finished trials are kept,
    trials interrupted by a killed process are failed and retried, and the study runs
    until ``n_trials`` trials are finished.

    Args:
        scene: A scene name, a :class:`hsi_attn.data.Scene`, or None for
            ``base_config.data.scene``.
        study_dir: Output directory (created); holds the default storage and the outputs.
        base_config: Everything that is not tuned: split protocol, model family, epochs
            per trial, batch size, seed... (default :class:`~hsi_attn.config.RunConfig`).
        attentions: Attentions to choose from (overrides the search space's); one name
            fixes it.
        search_space: A :class:`SearchSpace`, a ``.toml``/``.json`` file, or None for the
            defaults.
        n_trials: Finished (complete or pruned) trials wanted in the study (>= 1).
        timeout: Seconds after which workers start no new trial.
        seed: Training and split seed (overrides ``base_config.train.seed``); every trial
            uses the same split.
        sampler_seed: Base sampler seed (default ``seed``); give each machine of a
            multi-machine study a different one.
        storage: Optuna storage URL, ``journal:PATH``, or None for the default in
            ``study_dir`` (SQLite; a journal file with several workers).
        study_name: Study name (default ``<scene>-<model>-<attentions>``).
        pruner: ``"median"``, ``"hyperband"`` or ``"none"``.
        sampler: ``"tpe"`` or ``"random"``.
        workers: Processes on this machine (>= 1).
        retrain: Retrain the best configuration and evaluate it on the test split.
        root: Folder searched first for scene files.
        download: Download the scene if it is missing.
        device: Device override for every trial and the retrain.
        command: The command line, recorded in the outputs.

    Returns:
        A :class:`StudyResult`.

    Raises:
        ValueError: On bad arguments (the message names the value and the accepted
            ones), an unreachable storage (:class:`~hsi_attn.tuning.storage.StorageError`,
            password hidden), or a stored study with other settings.
        WorkerError: If a worker process fails.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be an integer >= 1, got {n_trials!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    lookup(SAMPLERS, sampler, kind="sampler")
    lookup(PRUNERS, pruner, kind="pruner")
    base = base_config or RunConfig()
    if base.train.self_training_rounds:
        raise ValueError(
            f"self_training_rounds={base.train.self_training_rounds}: a trial is scored on "
            "its first fit, so the rounds would never count; tune with "
            "--self-training-rounds 0, then train the best configuration with them"
        )
    if seed is not None:
        base = dataclasses.replace(base, train=dataclasses.replace(base.train, seed=seed))
    space = (search_space if isinstance(search_space, SearchSpace)
             else SearchSpace() if search_space is None else load_search_space(search_space))
    if attentions:
        space = space.with_attentions(attentions)
    _check_space(space, base)
    scene_name = _scene_name(scene, base)
    if isinstance(scene, str):
        base = dataclasses.replace(base, data=dataclasses.replace(base.data, scene=scene))
    name = study_name or default_study_name(scene_name, base, space)
    out = Path(study_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec_storage = resolve_storage(storage, out, workers=workers)
    opened = spec_storage.open()  # creates the tables here, before any worker starts
    with spec_storage.errors():
        study = optuna.create_study(study_name=name, storage=opened, direction="maximize",
                                    load_if_exists=True)
        _check_settings(study, _settings(scene_name, base, space), spec_storage)
        recovered = recover_stale_trials(study, use_heartbeat=spec_storage.kind == "journal")
    if recovered:
        logger.warning("re-queued the interrupted trials %s", recovered)
    target_device = str(resolve_device(device if device is not None else base.train.device))
    spec = WorkerSpec(
        study_name=name, storage=spec_storage, n_trials=n_trials, timeout=timeout,
        sampler=sampler, pruner=pruner,
        sampler_seed=base.train.seed if sampler_seed is None else sampler_seed,
        parallel=workers > 1 or (spec_storage.kind == "rdb"
                                 and not spec_storage.location.startswith("sqlite")),
        base=base, space=space, scene=None if isinstance(scene, str) else scene,
        root=None if root is None else str(root), download=download, device=device,
    )
    logger.info("study %r in %s: %d of %d trials finished", name, spec_storage.display,
                len(study.get_trials(deepcopy=False, states=FINISHED)), n_trials)
    run_workers(spec, workers)
    command = command or shlex.join([os.path.basename(sys.argv[0]) or "python", *sys.argv[1:]])
    return _finish(study, spec, out, retrain=retrain, device=target_device, command=command)


def _finish(study: optuna.Study, spec: WorkerSpec, out: Path, *, retrain: bool, device: str,
            command: str) -> StudyResult:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    counts = {state.name: len(study.get_trials(deepcopy=False, states=(state,)))
              for state in TrialState}
    provenance = {"command": command, "hsi_attn_version": __version__, "device": device,
                  "study_name": study.study_name, "storage": spec.storage.display,
                  "base_config": spec.base.to_dict(), "search_space": spec.space.to_dict()}
    files = {"trials.csv": write_trials_csv(study, out / "trials.csv", provenance)}
    if not complete:
        raise ValueError(
            f"study {study.study_name!r} has no completed trial ({counts}); every trial was "
            "pruned or failed: check the trials.csv, raise --epochs, or use --pruner none"
        )
    best = study.best_trial
    best_config = suggest_config(optuna.trial.FixedTrial(best.params, best.number),
                                 spec.space, spec.base)
    test_oa = retrain_val = None
    retrain_info: dict[str, Any] | None = None
    if retrain:
        retrain_info = _retrain(best_config, spec, out / "best_run", command)
        test_oa, retrain_val = retrain_info["test_oa"], retrain_info["val_oa"]
    plots = write_plots(study, out, {**provenance, "best_config": best_config.to_dict()})
    files.update({name: out / name for name, status in plots.items() if status == "written"})
    summary = {
        "study_name": study.study_name,
        "storage": spec.storage.display,
        "best_trial": best.number,
        "best_params": best.params,
        "validation_oa": best.value,
        "test_oa": test_oa,
        "retrain": retrain_info,
        "n_trials_requested": spec.n_trials,
        "trial_counts": {k: v for k, v in counts.items() if v},
        "config": best_config.to_dict(),
        "search_space": spec.space.to_dict(),
        "sampler": spec.sampler,
        "pruner": spec.pruner,
        "command": command,
        "hsi_attn_version": __version__,
        "optuna_version": optuna.__version__,
        "device": device,
        "plots": plots,
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    files["best_params.json"] = write_json_atomic(out / "best_params.json", summary)
    logger.debug("best trial %d: validation OA %.4f, test OA of the retrained best %s",
                 best.number, best.value, "n/a" if test_oa is None else f"{test_oa:.4f}")
    return StudyResult(
        study_name=study.study_name, storage=spec.storage.display, study_dir=out,
        best_trial=best.number, best_params=dict(best.params), best_value=float(best.value),
        best_config=best_config, test_oa=test_oa, retrain_val_oa=retrain_val,
        counts=counts, files=files,
    )


def _retrain(config: RunConfig, spec: WorkerSpec, run_dir: Path, command: str) -> dict[str, Any]:
    """Train the best configuration once and evaluate it once on the test split."""
    from hsi_attn.run import load_run_config, train_run

    if spec.device is not None:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train,
                                                                       device=spec.device))
    metrics_path = run_dir / "metrics.json"
    if metrics_path.is_file():
        saved, _ = load_run_config(run_dir)
        if saved == config:
            logger.info("the retrained best configuration in %s is up to date", run_dir)
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
            return _retrain_summary(run_dir, metrics)
    scene = load_study_scene(spec.base, spec.scene, root=spec.root, download=spec.download)
    logger.info("retraining the best configuration and evaluating it on the test split")
    result = train_run(config, run_dir, scene=scene, overwrite=True, command=command)
    return _retrain_summary(run_dir, result.metrics)


def _retrain_summary(run_dir: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    test = metrics.get("test", {})
    return {"run_dir": str(run_dir), "val_oa": metrics.get("best_val_oa"),
            "test_oa": test.get("oa"), "test_aa": test.get("aa"), "test_kappa": test.get("kappa"),
            "epochs_run": metrics.get("epochs_run")}
