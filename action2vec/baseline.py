"""The pooled-feature baseline of section 4.1: each video's features averaged over time, mapped
to word vectors by kernel ridge regression with Laplacian regularisation, solved on Nystrom
features of the kernel so that its memory grows linearly with the number of videos. The paper
pools C3D fc7; here it pools whatever backbone and layer the features stage used (its raw
features, not the PCA projection), so the metrics call it ``pooled`` and record the backbone and
layer beside it."""

import numpy as np

from action2vec import Action2VecError
from action2vec.shards import iter_videos

NAME = "pooled"  # the baseline's name in the zero-shot and WordNet figures
ROWS = 128  # videos per kernel block: bounds what a block holds whatever the number of videos
SMALLEST = 1e-12  # eigenvalues of the landmarks' kernel below this share of the largest: dropped


def features_used(features):
    """The backbone and layer the baseline pooled, from the ``features`` params, to record
    beside its scores: {"backbone": "c3d", "layer": "fc7"}."""
    return {"backbone": features["backbone"], "layer": features["layer"]}


def pooled_features(directory, index, dtype=np.float64):
    """(videos, feature dim) ``dtype``: each video of ``index`` (a sequence file's Index)
    averaged (in float64) over the clips its sequence keeps (the first ``steps``), from the
    backbone's raw features in ``directory``, in the index's order. One array filled in place;
    float32 halves it (the baseline stage's choice: 1 GB for 240,000 videos of 1024 values)."""
    row = {video: i for i, video in enumerate(index.video_id)}
    out, found = None, np.zeros(len(row), dtype=bool)
    for video, _, features in iter_videos(directory):
        if video in row:
            i = row[video]
            mean = np.asarray(features[:index.lengths[i]], dtype=np.float64).mean(0)
            if out is None:
                out = np.empty((len(row), len(mean)), dtype)
            out[i], found[i] = mean, True
    missing = [v for v, ok in zip(index.video_id, found) if not ok]
    if missing:
        raise Action2VecError(f"{directory} has no features for {len(missing)} videos of the "
                              f"sequence file (e.g. {missing[:3]}); run `dvc repro`")
    return out


def blocks(n, size=ROWS):
    """Slices of ``range(n)`` of at most ``size`` rows each."""
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def permute_rows(array, order):
    """Rearrange the rows of ``array`` in place so that row i holds what row ``order[i]`` held
    (``array[:] = array[order]`` without its copy of the array), one cycle of the permutation at
    a time. The baseline stage puts a split's training videos first with it: they are then a
    view, the whole array that the kNN graph is built on, not a copy beside the pooled
    features."""
    order = [int(i) for i in order]
    moved = [False] * len(order)
    for start in range(len(order)):
        if moved[start] or order[start] == start:
            continue
        held, i = array[start].copy(), start
        while order[i] != start:
            array[i], moved[i] = array[order[i]], True
            i = order[i]
        array[i], moved[i] = held, True


def feature_variance(features):
    """``np.var`` of every value of ``features``, in float64 a block at a time (two passes):
    no float64 copy of the whole array."""
    count = features.size
    mean = sum(float(features[b].sum(dtype=np.float64)) for b in blocks(len(features))) / count
    return sum(float(((features[b].astype(np.float64) - mean) ** 2).sum())
               for b in blocks(len(features))) / count


def landmark_rows(n, landmarks, seed):
    """The rows of the ``n`` training videos the kernel is approximated on, in increasing
    order: all of them when ``n <= landmarks``, else ``landmarks`` drawn without replacement
    with ``seed``."""
    if n <= landmarks:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, landmarks, replace=False))


def knn_laplacian(features, neighbours):
    """Unnormalised graph Laplacian D - W of the symmetric kNN graph (0/1 weights), as a scipy
    sparse CSR matrix: at most 2 x neighbours + 1 entries per video, nothing N x N."""
    from scipy.sparse import diags
    from sklearn.neighbors import kneighbors_graph

    k = min(neighbours, len(features) - 1)
    graph = kneighbors_graph(features, k, mode="connectivity", include_self=False)
    graph = graph.maximum(graph.T)
    return (diags(np.asarray(graph.sum(1)).ravel()) - graph).tocsr()


def kernel(features, landmarks, gamma):
    """k(x, landmarks) of the RBF kernel, (rows, m) float64, the rows cast to float64."""
    from sklearn.metrics.pairwise import rbf_kernel

    return rbf_kernel(np.asarray(features, dtype=np.float64), landmarks, gamma=gamma)


def inverse_root(landmarks, gamma):
    """K_mm^-1/2 of the landmarks' kernel K_mm = U S U^T, as U S^-1/2 (m, kept): the Nystrom
    features k(x, landmarks) U S^-1/2 then have inner products k(x, Z) K_mm^+ k(Z, y), which is
    k(x, y) itself when x and y are landmarks. Eigenvalues below ``SMALLEST`` of the largest
    (the kernel's rounding noise, which 1/sqrt would amplify) are clipped to zero rank: their
    directions are dropped, K_mm^+ is the pseudo-inverse."""
    values, vectors = np.linalg.eigh(kernel(landmarks, landmarks, gamma))
    keep = values > SMALLEST * values[-1]
    return vectors[:, keep] / np.sqrt(values[keep])


class LaplacianKRR:
    """A fitted Laplacian-regularised kernel ridge regression (see ``fit_laplacian_krr``), plain
    arrays and a number: a video's prediction is k(x, landmarks) @ coefficients, with
    coefficients = K_mm^-1/2 w."""

    def __init__(self, landmarks, coefficients, gamma):
        self.landmarks, self.coefficients, self.gamma = landmarks, coefficients, gamma

    def predict(self, features):
        """(videos, word dim) float64, ``ROWS`` videos at a time."""
        out = np.empty((len(features), self.coefficients.shape[1]))
        for b in blocks(len(features)):
            out[b] = kernel(features[b], self.landmarks, self.gamma) @ self.coefficients
        return out


def normal_equations(features, targets, landmarks, root, gamma, laplacian):
    """Phi^T Phi, Phi^T Y and Phi^T L Phi (None without ``laplacian``, the sparse L), summed
    over blocks of ``ROWS`` training videos, with Phi = k(X, landmarks) ``root``: Phi is never
    held whole. A block's rows of L Phi need the kernel rows of its graph neighbours, computed
    again there (about 2 x neighbours per video); L's rows are applied to them before the
    (m x m) ``root``."""
    dim = root.shape[1]
    gram, moment = np.zeros((dim, dim)), np.zeros((dim, targets.shape[1]))
    smooth = None if laplacian is None else np.zeros((dim, dim))
    for b in blocks(len(features)):
        phi = kernel(features[b], landmarks, gamma) @ root
        gram += phi.T @ phi
        moment += phi.T @ np.asarray(targets[b], dtype=np.float64)
        if laplacian is not None:
            rows = laplacian[b]
            near = np.unique(rows.indices)
            smooth += phi.T @ ((rows[:, near] @ kernel(features[near], landmarks, gamma)) @ root)
    return gram, moment, smooth


def fit_laplacian_krr(features, targets, alpha, gamma, laplacian, neighbours, landmarks, seed):
    """Kernel ridge regression with an RBF kernel and Laplacian (manifold) regularisation: the
    paper's pooled-feature baseline (section 4.1). Laplacian-regularised least squares (Belkin,
    Niyogi, Sindhwani 2006) on the training samples, A = (K + alpha I + laplacian L K)^-1 Y,
    where L = D - W of their symmetric kNN graph (``neighbours``) penalises predictions that
    differ between neighbouring videos. ``laplacian=0`` is plain kernel ridge regression.
    ``gamma=None``: 1 / (n_features * X.var()), as sklearn's "scale".

    Solved on the Nystrom features Phi = k(X, Z) K_ZZ^-1/2 of ``landmarks`` training videos Z
    (drawn with ``seed``; see ``inverse_root``): w minimises ||Y - Phi w||^2 + alpha ||w||^2 +
    laplacian (Phi w)^T L (Phi w); its gradient vanishes (L is symmetric) where
    (Phi^T Phi + alpha I + laplacian Phi^T L Phi) w = Phi^T Y, an m x m system built a block of
    videos at a time: memory O(N + m^2), nothing N x N. Predictions: phi(x) w.
    When Z = X (N <= ``landmarks``), Phi Phi^T = K and phi(x) Phi^T = k(x, X), so w = Phi^T A
    solves the system: (Phi^T Phi + alpha I + laplacian Phi^T L Phi) Phi^T A =
    Phi^T (K + alpha I + laplacian L K) A = Phi^T Y, and phi(x) w = k(x, X) A, the exact
    predictions (the system is positive definite for alpha > 0: w is unique). With fewer
    landmarks than videos, K is approximated with rank m.
    """
    x = np.asarray(features)
    x = x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)
    if gamma is None:
        gamma = 1.0 / (x.shape[1] * max(feature_variance(x), 1e-12))
    chosen = np.asarray(x[landmark_rows(len(x), landmarks, seed)], dtype=np.float64)
    root = inverse_root(chosen, gamma)
    graph = knn_laplacian(x, neighbours) if laplacian else None
    gram, moment, smooth = normal_equations(x, np.asarray(targets), chosen, root, gamma, graph)
    system = gram + alpha * np.eye(len(gram))
    if smooth is not None:
        system += laplacian * smooth
    weights = np.linalg.solve((system + system.T) / 2, moment)
    return LaplacianKRR(chosen, root @ weights, gamma)
