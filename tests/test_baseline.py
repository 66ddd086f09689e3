import numpy as np
import pytest

from action2vec.baseline import fit_laplacian_krr, pooled_features
from action2vec.sequences import Index
from action2vec.shards import ShardWriter


def test_pooled_features_average_the_raw_clips_each_sequence_keeps(tmp_path):
    """Each video's raw features (not a projection) averaged over its first ``length`` clips,
    in the index's order."""
    clips = {"b": [[1.0, 10.0], [3.0, 30.0], [100.0, 0.0]], "a": [[2.0, 4.0]]}
    with ShardWriter(tmp_path, {"layer": "fc7"}, 1) as writer:
        for video, rows in clips.items():
            writer.add(video, "x", np.array(rows, np.float32))
    index = Index(["b", "a"], ["x", "x"], np.array([2, 1]), 2, 2)
    assert pooled_features(tmp_path, index).tolist() == [[2.0, 20.0], [2.0, 4.0]]


def test_laplacian_krr_without_laplacian_is_kernel_ridge():
    from sklearn.kernel_ridge import KernelRidge

    rng = np.random.default_rng(0)
    features, targets = rng.normal(size=(30, 4)), rng.normal(size=(30, 3))
    test = rng.normal(size=(7, 4))
    ours = fit_laplacian_krr(features, targets, alpha=0.5, gamma=0.3, laplacian=0.0,
                             neighbours=5)
    reference = KernelRidge(alpha=0.5, kernel="rbf", gamma=0.3).fit(features, targets)
    assert ours.predict(test) == pytest.approx(reference.predict(test), abs=1e-6)


def test_laplacian_krr_default_gamma_scales_with_the_features():
    features = np.random.default_rng(0).normal(scale=2.0, size=(50, 5))
    model = fit_laplacian_krr(features, np.zeros((50, 1)), 1.0, None, 0.0, 5)
    assert model.gamma == pytest.approx(1.0 / (5 * features.var()))


def two_noisy_clusters():
    """Two far-apart clusters; targets 0 and 1 per cluster plus per-point noise."""
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 0.3, (20, 2)), rng.normal(5, 0.3, (20, 2))])
    targets = np.repeat([0.0, 1.0], 20)[:, None] + rng.normal(0, 0.3, (40, 1))
    return features, targets


def test_laplacian_term_smooths_predictions_within_each_cluster():
    features, targets = two_noisy_clusters()
    spread, means = [], []
    for laplacian in (0.0, 0.1, 1.0):
        pred = fit_laplacian_krr(features, targets, alpha=0.01, gamma=1.0,
                                 laplacian=laplacian, neighbours=5).predict(features)
        spread.append(pred[:20].var() + pred[20:].var())
        means.append([pred[:20].mean(), pred[20:].mean()])
    assert spread[0] > 1.5 * spread[1] > 1.5 * 1.5 * spread[2]  # less noise fitted
    assert np.allclose(means, [[0.0, 1.0]] * 3, atol=0.05)  # but the clusters stay apart
