"""Benchmark scenes: manifests, search order, checksums, v7.3, downloads, label remap."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import importlib.util
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hsi_attn.data import (
    ChecksumError,
    DatasetNotFoundError,
    Scene,
    SceneManifest,
    get_manifest,
    list_scenes,
    load_scene,
    locate_scene,
    read_manifest,
)

SCENES = [
    "botswana", "indian_pines", "ksc", "pavia_centre", "pavia_university", "salinas", "salinas_a",
]
IP_COUNTS = [46, 1428, 830, 237, 483, 730, 28, 478, 20, 972, 2455, 593, 205, 1265, 386, 93]
IP_MAT_SHA256 = {  # published sha256 of the community files
    "Indian_pines_corrected.mat":
        "ec2f8808710919d566f70f0d4aa885aae1ddfd42b734aba71c5e12ca65450939",
    "Indian_pines_gt.mat": "65c4687a8ab04f6da4789799bc3bc4f6e88bccac3ed6a2e6ae367e5e6b9e429c",
}


def fixture_manifest(data_fixtures: Path, name: str, *, v73: bool = False) -> SceneManifest:
    folder = "manifests_v73" if v73 else "manifests"
    return read_manifest(data_fixtures / folder / f"{name}.json")


def copy_scene(data_fixtures: Path, name: str, dest: Path, *, v73: bool = False) -> Path:
    source = data_fixtures / ("scenes_v73" if v73 else "scenes") / name
    shutil.copytree(source, dest / name)
    return dest


# -- manifests -------------------------------------------------------------------------


def test_every_scene_has_a_manifest() -> None:
    assert list_scenes() == SCENES


@pytest.mark.parametrize("name", SCENES)
def test_manifest_contents(name: str) -> None:
    manifest = get_manifest(name)
    assert manifest.name == name
    assert len(manifest.cube_shape) == 3
    assert all(0 <= b < manifest.cube_shape[2] for b in manifest.rgb_bands)
    for role in ("cube", "gt"):
        spec = manifest.files[role]
        assert spec.url.startswith("http")
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
        assert spec.variable
    assert manifest.class_counts is not None and len(manifest.class_counts) == manifest.n_classes


def test_salinas_a_manifest_maps_six_stored_labels() -> None:
    manifest = get_manifest("salinas_a")
    assert manifest.label_map == {1: 1, 10: 2, 11: 3, 12: 4, 13: 5, 14: 6}
    assert manifest.n_classes == 6


def test_unknown_scene_suggests_close_names() -> None:
    with pytest.raises(ValueError, match=r"indian_pine.*Did you mean 'indian_pines'"):
        load_scene("indian_pine")
    with pytest.raises(ValueError, match="pavia_university"):
        get_manifest("paviau_university")


# -- the real Indian Pines ------------------------------------------------------------


def test_real_indian_pines(indian_pines: Scene) -> None:
    assert indian_pines.cube.shape == (145, 145, 200)
    assert indian_pines.gt.shape == (145, 145) and indian_pines.gt.dtype == np.int64
    assert indian_pines.n_classes == 16
    assert indian_pines.class_counts().tolist() == IP_COUNTS
    assert int((indian_pines.gt > 0).sum()) == 10249
    assert indian_pines.class_names[0] == "Alfalfa"
    for path, digest in indian_pines.verified_files:
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest


@pytest.mark.skipif(not os.environ.get("HSI_ATTN_DATA"), reason="HSI_ATTN_DATA is not set")
def test_real_indian_pines_from_environment_variable(indian_pines: Scene) -> None:
    scene = load_scene("indian_pines", root=os.environ["HSI_ATTN_DATA"])
    names = {Path(p).name: digest for p, digest in scene.verified_files}
    assert names == IP_MAT_SHA256
    assert np.array_equal(scene.cube, indian_pines.cube)


@pytest.mark.skipif(importlib.util.find_spec("tensorly") is None, reason="tensorly not installed")
def test_real_indian_pines_from_tensorly(isolated_data_env: Path) -> None:
    scene = load_scene("indian_pines")
    assert all("tensorly" in path for path, _ in scene.verified_files)
    assert scene.cube.shape == (145, 145, 200) and scene.cube.dtype == np.uint16
    assert scene.class_counts().tolist() == IP_COUNTS
    location = locate_scene("indian_pines")
    assert location.available and "package tensorly" in str(location)


@pytest.mark.skipif(not os.environ.get("HSI_ATTN_DATA"), reason="HSI_ATTN_DATA is not set")
def test_real_corrupted_copy_is_refused(tmp_path: Path) -> None:
    source = Path(os.environ["HSI_ATTN_DATA"]) / "indian_pines"
    shutil.copy(source / "Indian_pines_corrected.mat", tmp_path)
    bad = tmp_path / "Indian_pines_gt.mat"
    raw = bytearray((source / "Indian_pines_gt.mat").read_bytes())
    raw[-1] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match=IP_MAT_SHA256["Indian_pines_gt.mat"]):
        load_scene("indian_pines", root=tmp_path)
    assert bad.read_bytes() == bytes(raw)


# -- generated fixtures for every manifest -------------------------------------------


@pytest.mark.parametrize("name", SCENES)
def test_fixture_scene_loads_with_manifest_variables(
    name: str, data_fixtures: Path, isolated_data_env: Path
) -> None:
    manifest = fixture_manifest(data_fixtures, name)
    scene = load_scene(manifest, root=data_fixtures / "scenes")
    assert scene.name == name
    assert scene.cube.shape == manifest.cube_shape
    assert scene.gt.shape == manifest.cube_shape[:2]
    assert set(np.unique(scene.gt)) == set(range(manifest.n_classes + 1))
    assert scene.class_names == manifest.class_names
    assert scene.rgb_bands == manifest.rgb_bands
    assert len(scene.verified_files) == 2


def test_search_order_prefers_root_then_env_then_cache(
    data_fixtures: Path, tmp_path: Path, isolated_data_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = fixture_manifest(data_fixtures, "ksc")
    for folder in ("root", "env"):
        copy_scene(data_fixtures, "ksc", tmp_path / folder)
    copy_scene(data_fixtures, "ksc", isolated_data_env)
    monkeypatch.setenv("HSI_ATTN_DATA", str(tmp_path / "env"))
    assert {f.source for f in locate_scene(manifest, tmp_path / "root").files.values()} == {"root"}
    assert {f.source for f in locate_scene(manifest).files.values()} == {"HSI_ATTN_DATA"}
    monkeypatch.delenv("HSI_ATTN_DATA")
    assert {f.source for f in locate_scene(manifest).files.values()} == {"cache"}
    # flat layout (files directly in the folder) is accepted too
    flat = tmp_path / "flat"
    shutil.copytree(data_fixtures / "scenes" / "ksc", flat)
    assert load_scene(manifest, root=flat).cube.shape == manifest.cube_shape


def test_mat_v73_loads_like_v5(data_fixtures: Path, isolated_data_env: Path) -> None:
    v73 = load_scene(fixture_manifest(data_fixtures, "indian_pines", v73=True),
                     root=data_fixtures / "scenes_v73")
    v5 = load_scene(fixture_manifest(data_fixtures, "indian_pines"), root=data_fixtures / "scenes")
    assert v73.cube.shape == v5.cube.shape
    assert np.array_equal(v73.cube, v5.cube)
    assert np.array_equal(v73.gt, v5.gt)


def test_corrupted_file_raises_and_is_left_untouched(
    data_fixtures: Path, tmp_path: Path, isolated_data_env: Path
) -> None:
    manifest = fixture_manifest(data_fixtures, "pavia_university")
    root = copy_scene(data_fixtures, "pavia_university", tmp_path)
    cube_path = root / "pavia_university" / manifest.files["cube"].name
    raw = bytearray(cube_path.read_bytes())
    raw[200] ^= 0x01
    cube_path.write_bytes(bytes(raw))
    mtime = cube_path.stat().st_mtime_ns
    actual = hashlib.sha256(bytes(raw)).hexdigest()
    with pytest.raises(ChecksumError) as info:
        load_scene(manifest, root=root, download=True)
    message = str(info.value)
    assert str(cube_path) in message
    assert manifest.files["cube"].sha256 in message and actual in message
    assert "not been modified" in message and "Replace it" in message
    assert cube_path.read_bytes() == bytes(raw)
    assert cube_path.stat().st_mtime_ns == mtime


def test_missing_file_lists_every_place_and_the_fix(
    data_fixtures: Path, tmp_path: Path, isolated_data_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = fixture_manifest(data_fixtures, "botswana")
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    monkeypatch.setenv("HSI_ATTN_DATA", str(env_dir))
    (tmp_path / "root").mkdir()  # an empty root; a missing one is an error of its own
    location = locate_scene(manifest, tmp_path / "root")
    assert not location.available and location.missing == ("cube", "gt")
    assert "not available" in str(location)
    with pytest.raises(DatasetNotFoundError) as info:
        load_scene(manifest, root=tmp_path / "root")
    message = str(info.value)
    for place in (str(tmp_path / "root" / "botswana" / "Botswana.mat"),
                  str(env_dir / "Botswana.mat"), str(isolated_data_env / "Botswana.mat")):
        assert place in message
    assert "export HSI_ATTN_DATA=" in message
    assert "--download" in message and "download=True" in message
    assert manifest.files["cube"].url in message


def test_missing_indian_pines_mentions_tensorly_when_absent(
    isolated_data_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hsi_attn.data.locate.package_folder", lambda package: None)
    with pytest.raises(DatasetNotFoundError, match="package tensorly: not installed"):
        load_scene("indian_pines")


def test_salinas_a_labels_are_remapped(data_fixtures: Path, isolated_data_env: Path) -> None:
    from scipy.io import loadmat

    manifest = fixture_manifest(data_fixtures, "salinas_a")
    stored = loadmat(data_fixtures / "scenes" / "salinas_a" / "SalinasA_gt.mat")["salinasA_gt"]
    assert set(np.unique(stored)) == {0, 1, 10, 11, 12, 13, 14}
    scene = load_scene(manifest, root=data_fixtures / "scenes")
    assert set(np.unique(scene.gt)) == {0, 1, 2, 3, 4, 5, 6}
    mapping = {0: 0, 1: 1, 10: 2, 11: 3, 12: 4, 13: 5, 14: 6}
    assert np.array_equal(scene.gt, np.vectorize(mapping.get)(stored))


def test_label_outside_the_manifest_is_an_error(
    data_fixtures: Path, isolated_data_env: Path
) -> None:
    manifest = fixture_manifest(data_fixtures, "salinas_a")
    manifest = dataclasses.replace(manifest, label_map={1: 1, 10: 2, 11: 3, 12: 4, 13: 5})
    with pytest.raises(ValueError, match=r"labels \[14\].*does not"):
        load_scene(manifest, root=data_fixtures / "scenes")


def test_cube_shape_disagreeing_with_manifest_is_an_error(
    data_fixtures: Path, isolated_data_env: Path
) -> None:
    manifest = dataclasses.replace(fixture_manifest(data_fixtures, "ksc"),
                                   cube_shape=(512, 614, 176))
    with pytest.raises(ValueError, match=r"shape \(12, 9, 45\).*\(512, 614, 176\)"):
        load_scene(manifest, root=data_fixtures / "scenes")


# -- download through pooch from a local HTTP server ----------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_server(data_fixtures: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(data_fixtures / "scenes"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def served(manifest: SceneManifest, base: str) -> SceneManifest:
    files = {
        role: dataclasses.replace(spec, url=f"{base}/{manifest.name}/{spec.name}")
        for role, spec in manifest.files.items()
    }
    return dataclasses.replace(manifest, files=files)


def test_download_through_pooch_from_local_server(
    data_fixtures: Path, isolated_data_env: Path, local_server: str
) -> None:
    manifest = served(fixture_manifest(data_fixtures, "salinas"), local_server)
    with pytest.raises(DatasetNotFoundError):
        load_scene(manifest)
    scene = load_scene(manifest, download=True)
    target = isolated_data_env / "salinas"
    assert sorted(p.name for p in target.iterdir()) == ["Salinas_corrected.mat", "Salinas_gt.mat"]
    assert scene.cube.shape == manifest.cube_shape
    assert locate_scene(manifest).available
    again = load_scene(manifest)
    assert np.array_equal(again.cube, scene.cube)


def test_download_into_root_and_hash_mismatch_saves_nothing(
    data_fixtures: Path, tmp_path: Path, isolated_data_env: Path, local_server: str
) -> None:
    from hsi_attn.data.download import download_file

    manifest = served(fixture_manifest(data_fixtures, "ksc"), local_server)
    wrong = dataclasses.replace(manifest.files["gt"], sha256="0" * 64)
    with pytest.raises(ChecksumError, match="0" * 64):
        download_file(wrong, tmp_path / "ksc", retries=0)
    assert list((tmp_path / "ksc").iterdir()) == []
    missing = dataclasses.replace(manifest.files["gt"], url=f"{local_server}/ksc/nothing.mat")
    with pytest.raises(DatasetNotFoundError, match=r"nothing\.mat.*failed"):
        download_file(missing, tmp_path / "ksc", retries=0)
    scene = load_scene(manifest, root=tmp_path, download=True)
    assert (tmp_path / "ksc" / "KSC_gt.mat").exists()
    assert scene.name == "ksc"
