"""README example: an attention 3D-CNN in a scikit-learn pipeline, scored with
spatially disjoint cross-validation on Indian Pines (tests/test_estimator_example.py
runs this file verbatim on a small fake scene; experiments/examples/sklearn_example.txt
holds what it printed and how long it took)."""

from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hsi_attn import HSIClassifier, PatchExtractor
from hsi_attn.data import SpatialKFold, load_scene

scene = load_scene("indian_pines")
cube = scene.cube[:, :, ::10]  # every 10th band (20 of 200): a quick run
coords = scene.labelled_coords()  # (n, 2) pixel coordinates: what the folds split
labels = [scene.class_names[k - 1] for k in scene.gt[coords[:, 0], coords[:, 1]]]
model = make_pipeline(
    PatchExtractor(cube, patch_size=3, flatten=True),  # coordinates -> patch rows
    StandardScaler(),  # fitted on the training folds only
    HSIClassifier(n_bands=cube.shape[2], attention="eca_band", epochs=10, random_state=0),
)
scores = cross_val_score(model, coords, labels, cv=SpatialKFold(3, patch_size=3, random_state=0))
print(f"OA over 3 spatially disjoint folds: {scores.mean():.3f} +/- {scores.std():.3f}")
