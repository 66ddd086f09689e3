import tracemalloc

import numpy as np
import pytest

from action2vec.baseline import fit_laplacian_krr, knn_laplacian, pooled_features
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
                             neighbours=5, landmarks=2000, seed=0)
    reference = KernelRidge(alpha=0.5, kernel="rbf", gamma=0.3).fit(features, targets)
    assert ours.predict(test) == pytest.approx(reference.predict(test), abs=1e-6)


def test_laplacian_krr_default_gamma_scales_with_the_features():
    features = np.random.default_rng(0).normal(scale=2.0, size=(50, 5))
    model = fit_laplacian_krr(features, np.zeros((50, 1)), 1.0, None, 0.0, 5, 2000, 0)
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
                                 laplacian=laplacian, neighbours=5, landmarks=2000,
                                 seed=0).predict(features)
        spread.append(pred[:20].var() + pred[20:].var())
        means.append([pred[:20].mean(), pred[20:].mean()])
    assert spread[0] > 1.5 * spread[1] > 1.5 * 1.5 * spread[2]  # less noise fitted
    assert np.allclose(means, [[0.0, 1.0]] * 3, atol=0.05)  # but the clusters stay apart


def exact_predictions(features, targets, test, alpha, gamma, laplacian, neighbours):
    """K(test, train) A with A = (K + alpha I + laplacian L K)^-1 Y, in numpy alone: the RBF
    kernel, and L = D - W of the symmetric kNN graph found by sorting distances."""
    def kernel(a, b):
        return np.exp(-gamma * ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    n = len(features)
    distances = ((features[:, None, :] - features[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    graph = np.zeros((n, n))
    graph[np.repeat(np.arange(n), neighbours),
          np.argsort(distances, axis=1)[:, :neighbours].ravel()] = 1
    graph = np.maximum(graph, graph.T)
    lap = np.diag(graph.sum(1)) - graph
    k = kernel(features, features)
    return kernel(test, features) @ np.linalg.solve(k + alpha * np.eye(n) + laplacian * lap @ k,
                                                    targets)


def regression_data(n=80, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 6))
    targets = np.sin(features[:, :3]) + rng.normal(0, 0.1, (n, 3))
    return features, targets, rng.normal(size=(25, 6))


def relative_gap(ours, exact):
    return np.abs(ours - exact).max() / np.abs(exact).max()


@pytest.mark.parametrize("laplacian", [0.0, 0.1, 1.0])
def test_with_every_training_video_a_landmark_the_solution_is_the_exact_one(laplacian):
    features, targets, test = regression_data()
    exact = exact_predictions(features, targets, test, 0.5, 0.1, laplacian, 5)
    for landmarks in (80, 2000):  # N <= landmarks: every video is one
        ours = fit_laplacian_krr(features, targets, 0.5, 0.1, laplacian, 5, landmarks,
                                 seed=0).predict(test)
        assert relative_gap(ours, exact) < 1e-6


def test_fewer_landmarks_approximate_the_exact_solution_and_follow_the_seed():
    """With half the videos as landmarks the gap is measured (about 1e-2 here), not zero;
    the draw follows the seed."""
    features, targets, test = regression_data(n=200)
    exact = exact_predictions(features, targets, test, 0.5, 0.1, 0.1, 5)
    fits = {seed: fit_laplacian_krr(features, targets, 0.5, 0.1, 0.1, 5, 100, seed)
            for seed in (0, 0, 1)}
    gap = relative_gap(fits[0].predict(test), exact)
    assert 1e-6 < gap < 0.1
    again = fit_laplacian_krr(features, targets, 0.5, 0.1, 0.1, 5, 100, 0).predict(test)
    assert again.tobytes() == fits[0].predict(test).tobytes()
    assert not np.allclose(fits[1].predict(test), fits[0].predict(test))
    assert len(fits[0].landmarks) == 100


def test_the_knn_laplacian_is_sparse_and_is_d_minus_w():
    features = np.random.default_rng(2).normal(size=(40, 3))
    lap = knn_laplacian(features, 4)
    assert lap.format == "csr" and lap.nnz <= 40 * (1 + 2 * 4)
    dense = lap.toarray()
    assert np.allclose(dense, dense.T) and np.allclose(dense.sum(1), 0)
    assert set(np.unique(dense - np.diag(np.diag(dense)))) <= {0.0, -1.0}
    assert (np.diag(dense) >= 4).all()


def test_fit_memory_grows_with_the_landmarks_not_with_n_squared():
    """3000 videos, 50 landmarks: one N x N float64 matrix would be 72 MB; the fit allocates
    (as numpy reports to tracemalloc) a small fraction of that."""
    rng = np.random.default_rng(3)
    features = rng.normal(size=(3000, 8)).astype(np.float32)
    targets = rng.normal(size=(3000, 4))
    tracemalloc.start()
    try:
        fit_laplacian_krr(features, targets, 1.0, None, 0.1, 5, 50, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3000 * 3000 * 8 / 8
