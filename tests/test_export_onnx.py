"""ONNX export: raw spectra in, the same probabilities as PyTorch out, without PyTorch.

Every registered model family is exported once (tiny widths, random weights and batch
norm statistics, a fitted standardisation + PCA) and its graphs are run in ONNX Runtime
against references computed the PyTorch way, independently of the exported modules:
``Preprocessor.transform`` on the raw cube (float64, as in training), then the patch
model or ``predict_scene``.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from hsi_attn.cli import main
from hsi_attn.config import DataConfig, ModelConfig, RunConfig
from hsi_attn.data import NonFiniteWarning, PatchSampler, fit_preprocessor
from hsi_attn.data.georeference import Georeference
from hsi_attn.engine import save_checkpoint
from hsi_attn.engine.checkpoint import CHECKPOINT_FORMAT
from hsi_attn.inference import predict_scene
from hsi_attn.models import DenseCapable, create_model, list_models, model_class
from hsi_attn.run.checkpoint_values import to_checkpoint
from hsi_attn.run.trained import TrainedRun

pytest.importorskip("onnxruntime", reason="needs the onnx extra (pip install -e '.[onnx]'); "
                                          "the CI's test extra installs it")
pytest.importorskip("onnxscript", reason="the dynamo ONNX exporter needs onnxscript (onnx extra)")

from hsi_attn.export import (  # noqa: E402 - after the guards
    ExportMetadata,
    ExportValidationError,
    OnnxSceneClassifier,
    export_onnx,
    predict_scene_onnx,
    read_metadata,
)
from hsi_attn.export.runtime import inference_session  # noqa: E402
from hsi_attn.export.validation import check_against_torch, validation_inputs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ATOL = 1e-5
RAW_BANDS = 24
CLASS_CODES = [2, 3, 5, 7]
# The smallest sizes each family takes, and narrow widths: each export takes seconds.
TINY: dict[str, dict[str, Any]] = {
    "resnet3d": {"patch_size": 5, "pca": 6, "attention": "eca_band", "kwargs": {"width": 4}},
    "hamida3d": {"patch_size": 5, "pca": 6, "attention": "cbam_band",
                 "kwargs": {"channels": (3, 4)}, "nonfinite": "mask"},
    "hybridsn": {"patch_size": 9, "pca": 16, "attention": "se_band", "kwargs": {}},
}
DEFAULT_TINY: dict[str, Any] = {"patch_size": 9, "pca": 16, "attention": "none", "kwargs": {}}


def randomized(model: nn.Module, seed: int) -> nn.Module:
    """Random weights and batch-norm statistics (no layer an identity), eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            noise = torch.randn(param.shape, generator=gen)
            param.copy_(noise * 1.5 / param[0].numel() ** 0.5 if param.dim() > 1 else noise * 0.2)
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.weight.uniform_(0.5, 1.5, generator=gen)
                module.running_mean.copy_(torch.randn(module.num_features, generator=gen) * 0.2)
                module.running_var.uniform_(0.5, 1.5, generator=gen)
    return model.eval()


def calibrated(model: nn.Module, features: np.ndarray, p: int, step: int = 3) -> nn.Module:
    """Rescale and centre the classifier's logits on ``features``: an unsaturated softmax."""
    patches = PatchSampler(features, p).gather(every_third_pixel(features.shape)[::step // 3])
    classifier = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        logits = model(patches)
        scale = 2 / logits.std(dim=0).mean()
        classifier.weight.mul_(scale)
        classifier.bias.mul_(scale).sub_(logits.mean(dim=0) * scale)
    return model


def raw_cube(height: int, width: int, bands: int, seed: int) -> np.ndarray:
    """Sensor-like raw spectra: integers in the thousands, correlated across bands."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(4, bands)).cumsum(axis=1)
    weights = rng.normal(size=(height, width, 4))
    cube = 3000 + 400 * weights @ basis + 30 * rng.normal(size=(height, width, bands))
    return np.round(cube).astype(np.float32)


def every_third_pixel(shape: tuple[int, ...]) -> np.ndarray:
    return np.stack(np.divmod(np.arange(0, shape[0] * shape[1], 3), shape[1]), axis=1)


def make_trained(family: str, cube: np.ndarray, seed: int = 0) -> TrainedRun:
    tiny = TINY.get(family, DEFAULT_TINY)
    p, pca, attention = tiny["patch_size"], tiny["pca"], tiny["attention"]
    preprocessor = fit_preprocessor(cube, every_third_pixel(cube.shape), pca=pca,
                                    nonfinite=tiny.get("nonfinite", "raise"))
    config = RunConfig(data=DataConfig(pca=pca),
                       model=ModelConfig(name=family, attention=attention, patch_size=p))
    model = model_class(family)(pca, len(CLASS_CODES), patch_size=p, attention=attention,
                                attention_kwargs=config.model.attention_kwargs(),
                                **tiny["kwargs"])
    wavelengths = tuple(400.0 + 10 * i for i in range(cube.shape[2]))
    extra = {"scene": "synthetic", "n_classes": len(CLASS_CODES), "n_bands": pca,
             "n_bands_in": cube.shape[2], "class_codes": CLASS_CODES,
             "class_names": [f"crop {c}" for c in CLASS_CODES],
             "georef": Georeference(wavelengths=wavelengths,
                                    wavelength_units="Nanometers").to_dict()}
    model = calibrated(randomized(model, seed), preprocessor.transform(cube), p)
    return TrainedRun(config, model, extra, preprocessor, True)


def torch_probabilities(trained: TrainedRun, cube: np.ndarray, method: str, **kw: Any
                        ) -> np.ndarray:
    """The PyTorch reference: preprocessing as in training, then ``predict_scene``."""
    features = trained.preprocessor.transform(cube)
    return predict_scene(trained.model, features, patch_size=trained.config.model.patch_size,
                         method=method, pad_mode=trained.config.data.pad_mode, **kw)


@pytest.fixture(scope="module")
def cube() -> np.ndarray:
    return raw_cube(13, 11, RAW_BANDS, seed=1)


@pytest.fixture(scope="module")
def exports(cube: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``get(family)``: the family exported once (both graphs where it has a dense twin)."""
    done: dict[str, tuple[TrainedRun, Any]] = {}

    def get(family: str) -> tuple[TrainedRun, Any]:
        if family not in done:
            trained = make_trained(family, cube)
            out = tmp_path_factory.mktemp(family) / "model.onnx"
            start = time.perf_counter()
            result = export_onnx(trained, out, validation_cube=cube)
            print(f"{family}: exported {sorted(result.paths)} in "
                  f"{time.perf_counter() - start:.1f} s; validation {result.max_abs_difference}")
            done[family] = trained, result
        return done[family]

    return get


@pytest.fixture(params=list_models())
def exported(request: pytest.FixtureRequest, exports: Any) -> tuple[TrainedRun, Any]:
    return exports(request.param)


def test_patch_graph_matches_pytorch_on_two_batch_sizes(exported: tuple[TrainedRun, Any],
                                                        cube: np.ndarray) -> None:
    trained, result = exported
    p = trained.config.model.patch_size
    session = inference_session(result.paths["patch"])
    features = torch.from_numpy(trained.preprocessor.transform(cube))
    raw = torch.from_numpy(cube)
    coords = every_third_pixel(cube.shape)
    for count in (2, 9):
        chosen = coords[:count] if count == 2 else coords[-count:]
        raw_patches = PatchSampler(raw, p).gather(chosen).numpy()
        with torch.no_grad():
            logits = trained.model(PatchSampler(features, p).gather(chosen))
        expected = torch.softmax(logits, dim=1).numpy()
        got = session.run(None, {"patches": raw_patches})[0]
        assert got.shape == (count, len(CLASS_CODES))
        assert count == 2 or expected.std(axis=0).max() > 0.01  # informative: a real check
        print(f"{trained.config.model.name} patch N={count}: max |diff| "
              f"{np.abs(got - expected).max():.2e}")
        np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)
    assert result.max_abs_difference["patch"] <= ATOL


def test_dense_graph_matches_predict_scene_on_two_tile_sizes(exported: tuple[TrainedRun, Any],
                                                             cube: np.ndarray) -> None:
    trained, result = exported
    if not isinstance(trained.model, DenseCapable):
        assert set(result.paths) == {"patch"}  # a patch-only family gets the patch graph
        return
    p = trained.config.model.patch_size
    half = p // 2
    reference = torch_probabilities(trained, cube, "dense")
    padded = np.pad(cube, ((half, half), (half, half), (0, 0)), mode="reflect")
    session = inference_session(result.paths["dense"])
    for top, left, h, w in ((0, 0, 13, 11), (3, 2, 6, 9), (7, 4, 5, 3)):
        tile = padded[top:top + h + p - 1, left:left + w + p - 1].transpose(2, 0, 1)
        got = session.run(None, {"tile": np.ascontiguousarray(tile)[None, None]})[0]
        assert got.shape == (1, len(CLASS_CODES), h, w)
        expected = reference[top:top + h, left:left + w].transpose(2, 0, 1)
        print(f"{trained.config.model.name} dense {h}x{w}: max |diff| "
              f"{np.abs(got[0] - expected).max():.2e}")
        np.testing.assert_allclose(got[0], expected, rtol=0, atol=ATOL)
    pair = np.stack([padded[:p + 3, :p + 2], padded[-p - 3:, -p - 2:]]).transpose(0, 3, 1, 2)
    got = session.run(None, {"tile": np.ascontiguousarray(pair)[:, None]})[0]  # N = 2
    np.testing.assert_allclose(got[0], reference[:4, :3].transpose(2, 0, 1), rtol=0, atol=ATOL)
    np.testing.assert_allclose(got[1], reference[-4:, -3:].transpose(2, 0, 1), rtol=0, atol=ATOL)
    assert result.max_abs_difference["dense"] <= ATOL


def test_runtime_maps_a_raw_cube_like_predict_scene(exported: tuple[TrainedRun, Any],
                                                    cube: np.ndarray) -> None:
    trained, result = exported
    reference = torch_probabilities(trained, cube, "patch")
    patch = predict_scene_onnx(result.paths["patch"], cube, graph="patch", batch_size=17)
    auto = OnnxSceneClassifier(result.paths["patch"])
    assert auto.metadata.graph == ("dense" if "dense" in result.paths else "patch")
    tiled = auto.predict_proba(cube, tile_size=4, batch_size=40)
    assert reference.std(axis=(0, 1)).max() > 0.01
    for got in (patch, tiled):
        assert got.shape == reference.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, reference, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(auto.predict(cube),
                                  np.asarray(CLASS_CODES)[reference.argmax(axis=2)])


def test_metadata_describes_the_model(exported: tuple[TrainedRun, Any]) -> None:
    trained, result = exported
    import onnx

    for kind, path in result.paths.items():
        meta = read_metadata(path)
        assert meta.graph == kind
        assert meta.class_codes == tuple(CLASS_CODES)
        assert meta.class_names == tuple(f"crop {c}" for c in CLASS_CODES)
        assert meta.patch_size == trained.config.model.patch_size
        assert meta.n_bands_raw == RAW_BANDS
        assert meta.n_bands_model == trained.preprocessor.n_bands_out
        assert meta.wavelengths == tuple(400.0 + 10 * i for i in range(RAW_BANDS))
        assert meta.pad_mode == "reflect" and meta.nonfinite == trained.preprocessor.nonfinite
        assert (meta.model, meta.attention) == (trained.config.model.name,
                                                trained.config.model.attention)
        assert meta.hsi_attn_version == __import__("hsi_attn").__version__
        assert meta.companion == next((p.name for k, p in result.paths.items() if k != kind), None)
        proto = onnx.load(path)
        props = {p.key: p.value for p in proto.metadata_props}
        assert json.loads(props["class_codes"]) == CLASS_CODES
        assert proto.opset_import[0].version == meta.opset
        onnx.checker.check_model(proto)


def test_masked_nonfinite_values_are_replaced_inside_the_graph(exports: Any,
                                                               cube: np.ndarray) -> None:
    masking = [f for f in list_models() if TINY.get(f, {}).get("nonfinite") == "mask"]
    trained, result = exports(masking[0])
    bad = cube.copy()
    bad[2, 3, :5] = np.nan
    bad[7, 0, 1] = np.inf
    with pytest.warns(NonFiniteWarning):
        expected = torch_probabilities(trained, bad, "patch")
    for graph in result.paths:
        got = predict_scene_onnx(result.paths["patch"], bad, graph=graph)
        np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)


def test_validation_rejects_a_graph_that_differs(exported: tuple[TrainedRun, Any],
                                                 cube: np.ndarray) -> None:
    from hsi_attn.export.graphs import PatchProbabilities

    trained, result = exported
    other = make_trained(trained.config.model.name, cube, seed=5)  # other weights
    inputs = validation_inputs("patch", trained.preprocessor, trained.config.model.patch_size)
    model_bytes = result.paths["patch"].read_bytes()
    module = PatchProbabilities(trained.model, trained.preprocessor)
    assert check_against_torch(module, model_bytes, inputs, graph="patch") <= ATOL
    with pytest.raises(ExportValidationError, match="differs from PyTorch"):
        check_against_torch(PatchProbabilities(other.model, trained.preprocessor), model_bytes,
                            inputs, graph="patch")


def test_fallback_exporter_and_a_wrong_graph_is_never_written(
        cube: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """With the dynamo exporter failing, the TorchScript one is tried, and checked."""
    from hsi_attn.export import exporter

    export = torch.onnx.export

    def dynamo_fails(*args: Any, dynamo: bool = True, **kwargs: Any) -> Any:
        if dynamo:
            raise RuntimeError("simulated dynamo failure")
        return export(*args, dynamo=False, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", dynamo_fails)
    trained = make_trained("resnet3d", cube)
    with caplog.at_level("WARNING", logger="hsi_attn"):
        result = export_onnx(trained, tmp_path / "model.onnx")
    assert "trying the TorchScript exporter" in caplog.text
    assert max(result.max_abs_difference.values()) <= ATOL

    to_onnx = exporter.to_onnx

    def wrong_graph(module: nn.Module, example: torch.Tensor, **kwargs: Any) -> Any:
        broken = copy.deepcopy(module)
        with torch.no_grad():
            next(broken.parameters()).add_(0.5)
        return to_onnx(broken, example, **kwargs)

    monkeypatch.setattr(exporter, "to_onnx", wrong_graph)
    out = tmp_path / "other" / "model.onnx"
    with pytest.raises(ExportValidationError, match="was not written"):
        export_onnx(trained, out)
    assert not out.parent.exists() or not list(out.parent.iterdir())


@pytest.mark.slow  # 12 to 30 s on the shared 2-core machine (load 4 to 9), half of it the export
def test_whole_indian_pines_dense_onnx_equals_predict_scene(indian_pines: Any,
                                                            tmp_path: Path) -> None:
    """The default flagship (random weights) over the real scene, raw cube in."""
    config = RunConfig()
    cube = indian_pines.cube
    rng = np.random.default_rng(0)
    labelled = np.argwhere(indian_pines.gt > 0)
    preprocessor = fit_preprocessor(cube, labelled[rng.choice(len(labelled), 500, replace=False)],
                                    pca=config.data.pca)
    torch.manual_seed(0)
    model = create_model(config.model.name, n_bands=config.data.pca,
                         n_classes=len(indian_pines.class_names),
                         patch_size=config.model.patch_size, attention=config.model.attention,
                         attention_kwargs=config.model.attention_kwargs())
    model = calibrated(randomized(model, 0), preprocessor.transform(cube),
                       config.model.patch_size, step=60)
    trained = TrainedRun(config, model, {"class_names": indian_pines.class_names,
                                                        "n_classes": len(indian_pines.class_names),
                                                        "scene": "indian_pines"},
                         preprocessor, True)
    result = export_onnx(trained, tmp_path / "flagship.onnx", graph="dense", validation_cube=cube)
    start = time.perf_counter()
    got = predict_scene_onnx(result.paths["dense"], cube)
    seconds = time.perf_counter() - start
    expected = torch_probabilities(trained, cube, "dense")
    assert expected.std(axis=(0, 1)).max() > 0.01
    difference = np.abs(got - expected).max()
    print(f"Indian Pines flagship: ONNX Runtime {seconds:.1f} s, max |diff| {difference:.2e}")
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)


# -- the command line ---------------------------------------------------------------------


def write_run(run_dir: Path, trained: TrainedRun) -> Path:
    """A run directory as hsi-attn train leaves it, as far as export reads it."""
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(trained.config.to_dict()))
    extra = {**trained.extra, "preprocessor": trained.preprocessor.state_dict()}
    save_checkpoint(run_dir / "checkpoint.pt", {"format": CHECKPOINT_FORMAT, "finished": True,
                                                "model": trained.model.state_dict(),
                                                "extra": to_checkpoint(extra)})
    return run_dir


def test_cli_writes_the_files_and_refuses_to_overwrite(tmp_path: Path, cube: np.ndarray,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    trained = make_trained("hamida3d", cube)
    model = create_model("hamida3d", n_bands=6, n_classes=4, patch_size=5,
                         attention="cbam_band",
                         attention_kwargs=trained.config.model.attention_kwargs())
    trained = TrainedRun(trained.config, randomized(model, 0), trained.extra,
                         trained.preprocessor, True)
    run_dir = write_run(tmp_path / "run", trained)
    np.save(tmp_path / "cube.npy", cube)
    out = tmp_path / "export" / "model.onnx"
    argv = ["export", str(run_dir), "--format", "onnx", "--out", str(out), "--cube",
            str(tmp_path / "cube.npy")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and (tmp_path / "export" / "model.dense.onnx").is_file()
    assert "patch graph" in printed and "dense graph" in printed
    before = out.stat().st_ino
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and len(err.splitlines()) == 1
    assert main([*argv, "--overwrite", "--graph", "patch"]) == 0
    assert out.stat().st_ino != before  # replaced by a rename, not rewritten in place
    assert not list((tmp_path / "export").glob(".*.tmp"))  # atomic writes leave nothing
    assert main(["export", str(run_dir), "--out", str(tmp_path / "model.bin")]) == 1
    assert ".onnx" in capsys.readouterr().err


def test_dense_graph_of_a_patch_only_family_is_a_clear_error(cube: np.ndarray,
                                                             tmp_path: Path) -> None:
    patch_only = [n for n in list_models() if not issubclass(model_class(n), DenseCapable)]
    if not patch_only:
        pytest.skip("every registered family has a dense twin")
    trained = make_trained(patch_only[0], cube)
    with pytest.raises(ValueError, match="--graph patch"):
        export_onnx(trained, tmp_path / "model.onnx", graph="dense")
    assert not list(tmp_path.iterdir())


# -- the runtime without PyTorch ----------------------------------------------------------


def test_runtime_runs_without_torch(exports: Any, cube: np.ndarray, tmp_path: Path) -> None:
    trained, result = exports(list_models()[0])  # the flagship: both graphs
    np.save(tmp_path / "cube.npy", cube)
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from hsi_attn.export import predict_scene_onnx, read_metadata\n"
        f"probs = predict_scene_onnx({str(result.paths['patch'])!r}, "
        f"np.load({str(tmp_path / 'cube.npy')!r}))\n"
        f"np.save({str(tmp_path / 'probs.npy')!r}, probs)\n"
        "assert not any(m == 'torch' or m.startswith('torch.') for m in sys.modules "
        "if sys.modules[m] is not None)\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "probs.npy"),
                               torch_probabilities(trained, cube, "dense"), rtol=0, atol=ATOL)


def test_runtime_errors_say_what_to_do(exports: Any, cube: np.ndarray,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _, result = exports(list_models()[0])
    path = result.paths["patch"]
    with pytest.raises(ValueError, match=f"takes raw cubes of {RAW_BANDS} bands"):
        predict_scene_onnx(path, cube[:, :, :-1])
    bad = cube.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        predict_scene_onnx(path, bad)
    with pytest.raises(FileNotFoundError, match="hsi-attn export"):
        predict_scene_onnx(path.with_name("missing.onnx"), cube)
    with pytest.raises(ValueError, match="no hsi_attn metadata"):
        ExportMetadata.from_props({})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[onnx\]"'):
        predict_scene_onnx(path, cube)
