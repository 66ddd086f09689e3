import tracemalloc

import numpy as np
import pytest
import yaml

from action2vec.baseline import fit_laplacian_krr, knn_laplacian, permute_rows, pooled_features
from action2vec.labels import read_classes, write_classes
from action2vec.paths import (CLASSES, DECODE, DECODED, FEATURES, SEQUENCES, SPLITS,
                              baseline_dir, split_file)
from action2vec.sequences import Index, read_index
from action2vec.shards import ShardWriter
from action2vec.splits import read_splits, split_roles, training_videos
from conftest import run_stage_ok, stage_project


def test_pooled_features_average_the_raw_clips_each_sequence_keeps(tmp_path):
    """Each video's raw features (not a projection) averaged over its first ``length`` clips,
    in the index's order; float32 on request (the baseline stage's), the same means."""
    clips = {"b": [[1.0, 10.0], [3.0, 30.0], [100.0, 0.0]], "a": [[2.0, 4.0]]}
    with ShardWriter(tmp_path, {"layer": "fc7"}, 1) as writer:
        for video, rows in clips.items():
            writer.add(video, "x", np.array(rows, np.float32))
    index = Index(["b", "a"], ["x", "x"], np.array([2, 1]), 2, 2)
    assert pooled_features(tmp_path, index).tolist() == [[2.0, 20.0], [2.0, 4.0]]
    single = pooled_features(tmp_path, index, np.float32)
    assert single.dtype == np.float32 and single.tolist() == [[2.0, 20.0], [2.0, 4.0]]


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
    """float32 features too: their variance taken in float64 block by block, as np.var of a
    float64 copy gives it."""
    features = np.random.default_rng(0).normal(3.0, 2.0, size=(300, 5)).astype(np.float32)
    model = fit_laplacian_krr(features, np.zeros((300, 1)), 1.0, None, 0.0, 5, 2000, 0)
    assert model.gamma == pytest.approx(1.0 / (5 * features.astype(np.float64).var()),
                                        rel=1e-12)


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


def dense_laplacian(features, neighbours):
    """D - W of the symmetric kNN graph, dense, in numpy alone: each point's ``neighbours``
    nearest others by sorted squared distances, joined both ways."""
    n = len(features)
    distances = ((features[:, None, :] - features[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    graph = np.zeros((n, n))
    graph[np.repeat(np.arange(n), neighbours),
          np.argsort(distances, axis=1)[:, :neighbours].ravel()] = 1
    graph = np.maximum(graph, graph.T)
    return np.diag(graph.sum(1)) - graph


def exact_predictions(features, targets, test, alpha, gamma, laplacian, neighbours):
    """k(test, train) A with A = (K + alpha I + laplacian L K)^-1 Y, the N x N representer
    solution, in numpy alone."""
    def kernel(a, b):
        return np.exp(-gamma * ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    k = kernel(features, features)
    system = k + alpha * np.eye(len(features)) + laplacian * dense_laplacian(
        features, neighbours) @ k
    return kernel(test, features) @ np.linalg.solve(system, targets)


def regression_data(n, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 6))
    targets = np.sin(features[:, :3]) + rng.normal(0, 0.1, (n, 3))
    return features, targets, rng.normal(size=(25, 6))


def relative_gap(ours, exact):
    return np.abs(ours - exact).max() / np.abs(exact).max()


@pytest.mark.parametrize("laplacian", [0.0, 0.1, 1.0])
def test_with_every_training_video_a_landmark_the_solution_is_the_exact_one(laplacian):
    """N <= landmarks: every video is a landmark, Phi Phi^T = K, and the predictions are those
    of the N x N solve (measured: at most 1.7e-13 of the largest prediction)."""
    features, targets, test = regression_data(n=300)  # blocks of 128 videos: the kNN graph
    exact = exact_predictions(features, targets, test, 0.5, 0.1, laplacian, 5)  # crosses them
    for landmarks in (300, 2000):
        model = fit_laplacian_krr(features, targets, 0.5, 0.1, laplacian, 5, landmarks, seed=0)
        assert model.landmarks.tolist() == features.tolist()  # all of them, in their order
        assert relative_gap(model.predict(test), exact) < 1e-10


def test_fewer_landmarks_approximate_the_exact_solution():
    """400 videos, 200 landmarks: close to the exact solution, not equal to it (measured: 1.5%
    of the largest prediction at most with seed 0; 1.0% to 3.9% with seeds 0 to 4)."""
    features, targets, test = regression_data(n=400)
    exact = exact_predictions(features, targets, test, 0.5, 0.1, 0.1, 5)
    ours = fit_laplacian_krr(features, targets, 0.5, 0.1, 0.1, 5, 200, 0).predict(test)
    assert 1e-6 < relative_gap(ours, exact) < 0.03


def test_landmarks_are_training_videos_drawn_with_the_seed():
    features, targets, test = regression_data(n=200)
    fits = [fit_laplacian_krr(features, targets, 0.5, 0.1, 0.1, 5, 50, seed)
            for seed in (0, 0, 1)]
    rows = [np.flatnonzero((features[:, None, :] == f.landmarks[None]).all(-1).any(1))
            for f in fits]
    assert [len(r) for r in rows] == [50, 50, 50]  # 50 distinct training videos each
    assert fits[0].landmarks.tobytes() == fits[1].landmarks.tobytes()
    assert fits[0].predict(test).tobytes() == fits[1].predict(test).tobytes()
    assert len(np.intersect1d(rows[0], rows[2])) < 50  # another seed, another draw


@pytest.mark.parametrize("neighbours", [1, 4, 39, 60])
def test_the_sparse_knn_laplacian_equals_a_dense_construction(neighbours):
    """More neighbours than other points: every other point is one."""
    features = np.random.default_rng(2).normal(size=(40, 3))
    lap = knn_laplacian(features, neighbours)
    assert lap.format == "csr"
    assert lap.toarray().tolist() == dense_laplacian(features, min(neighbours, 39)).tolist()


def test_fit_memory_grows_with_the_landmarks_not_with_n_squared():
    """3000 videos, 50 landmarks: one N x N float64 matrix would be 72 MB; the fit allocates
    (as numpy reports to tracemalloc) under a tenth of that."""
    rng = np.random.default_rng(3)
    features = rng.normal(size=(3000, 8)).astype(np.float32)
    targets = rng.normal(size=(3000, 4))
    tracemalloc.start()
    try:
        fit_laplacian_krr(features, targets, 1.0, None, 0.1, 5, 50, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3000 * 3000 * 8 / 10


def test_permute_rows_moves_the_rows_in_place_without_a_copy_of_the_array():
    """As ``array[order]`` gives them; the inverse order puts them back; under a quarter of
    the array's size allocated (as numpy and Python report to tracemalloc)."""
    rng = np.random.default_rng(4)
    array = rng.normal(size=(2000, 256)).astype(np.float32)
    original = array.copy()
    order = rng.permutation(2000)
    tracemalloc.start()
    try:
        permute_rows(array, order)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert array.tobytes() == original[order].tobytes()
    assert peak < array.nbytes / 4
    permute_rows(array, np.argsort(order))
    assert array.tobytes() == original.tobytes()


def test_the_stage_predicts_as_a_fit_on_a_copy_of_each_splits_training_videos(tmp_path):
    """Two splits, one after the other on the same pooled features moved in place: each split's
    saved predictions are those of the regression fitted on a copy of its training videos'
    float32 pooled features, the videos in the index's order."""
    stage_project(tmp_path, zsl={"ratios": ["50_50"], "n_splits": 2, "variants": ["action2vec"]},
                  pca={"dims": 4})
    names = [f"class {i}" for i in range(8)]
    write_classes(tmp_path / CLASSES, "test", names, [n.split() for n in names],
                  np.random.default_rng(5).normal(size=(8, 6)).astype(np.float32))
    rng = np.random.default_rng(0)
    with ShardWriter(tmp_path / FEATURES, {"layer": "fc7"}, 16) as writer:
        for i in range(48):
            writer.add(f"v{i:02d}", names[i % 8], rng.normal(size=(2 + i % 5, 24)).astype(
                np.float32))
    (tmp_path / DECODE).mkdir(parents=True, exist_ok=True)
    (tmp_path / DECODED).write_text("id,path,class,status\n" + "".join(
        f"v{i:02d},v{i:02d},{names[i % 8]},ok\n" for i in range(48)))
    for stage, *args in (("splits",), ("pca",), ("sequence",), ("baseline", "50_50")):
        run_stage_ok(tmp_path, stage, *args)
    p = yaml.safe_load((tmp_path / "params.yaml").read_text())
    cfg = p["baseline"]
    index = read_index(tmp_path / SEQUENCES)
    features = pooled_features(tmp_path / FEATURES, index, np.float32)
    vectors = read_classes(tmp_path / CLASSES).vectors
    ids, labels = np.array(index.video_id), np.array(index.label)
    videos = list(zip(index.video_id, index.label))
    splits = read_splits(tmp_path / SPLITS, "50_50")
    assert len(splits) == 2
    for k, split in enumerate(splits):
        train = np.isin(ids, training_videos(split, videos))
        test = np.isin(ids, list(split_roles(split, videos)))
        model = fit_laplacian_krr(features[train], np.array([vectors[c] for c in labels[train]]),
                                  cfg["alpha"], cfg["gamma"], cfg["laplacian"],
                                  cfg["neighbours"], cfg["landmarks"], p["seed"])
        saved = np.load(split_file(tmp_path / baseline_dir("50_50"), k, ".npz"))
        assert saved["video_id"].tolist() == ids[test].tolist()
        assert saved["embedding"].tobytes() == model.predict(features[test]).tobytes()
