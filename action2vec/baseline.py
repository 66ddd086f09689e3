"""The pooled-feature baseline of section 4.1: each video's features averaged over time, mapped
to word vectors by kernel ridge regression with Laplacian regularisation, on Nystrom features of
the kernel so that its memory grows linearly with the number of videos. The paper pools C3D
fc7; here it pools whatever backbone and layer the features stage used (its raw features, not
the PCA projection), so the metrics call it ``pooled`` and record the backbone and layer beside
it."""

import numpy as np

from action2vec import Action2VecError
from action2vec.shards import iter_videos

NAME = "pooled"  # the baseline's name in the zero-shot and WordNet figures


def features_used(features):
    """The backbone and layer the baseline pooled, from the ``features`` params, to record
    beside its scores: {"backbone": "c3d", "layer": "fc7"}."""
    return {"backbone": features["backbone"], "layer": features["layer"]}


def pooled_features(directory, index, dtype=np.float64):
    """(videos, feature dim) ``dtype``: each video of ``index`` (a sequence file's Index)
    averaged (in float64) over the clips its sequence keeps (the first ``steps``), from the
    backbone's raw features in ``directory``, in the index's order. float32 halves what the
    baseline holds at Kinetics scale (1 GB for 240,000 videos of 1024 values)."""
    row = {video: i for i, video in enumerate(index.video_id)}
    out, found = None, np.zeros(len(row), dtype=bool)
    for video, _, features in iter_videos(directory):
        if video in row:
            i = row[video]
            mean = np.asarray(features[:index.lengths[i]], dtype=np.float64).mean(0)
            if out is None:  # one array filled in place: no second copy of the features
                out = np.empty((len(row), len(mean)), dtype)
            out[i], found[i] = mean, True
    missing = [v for v, ok in zip(index.video_id, found) if not ok]
    if missing:
        raise Action2VecError(f"{directory} has no features for {len(missing)} videos of the "
                              f"sequence file (e.g. {missing[:3]}); run `dvc repro`")
    return out


ROWS = 256  # rows of the features per kernel block: bounds the blocks' memory


def blocks(n, size=ROWS):
    """Slices of ``range(n)`` of at most ``size`` rows each."""
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def feature_variance(features):
    """The variance of every value of ``features`` (as ``np.var`` of the whole array), in
    float64 block by block: no float64 copy of the array is made."""
    n = features.shape[0] * features.shape[1]
    mean = sum(float(features[b].sum(dtype=np.float64)) for b in blocks(len(features))) / n
    return sum(float(((features[b].astype(np.float64) - mean) ** 2).sum())
               for b in blocks(len(features))) / n


def landmark_rows(n, landmarks, seed):
    """The rows of the ``n`` training videos the kernel is approximated on: every row when
    ``n <= landmarks`` (the exact solution), else ``landmarks`` rows drawn without replacement
    with ``seed``, in increasing order."""
    if n <= landmarks:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, landmarks, replace=False))


def knn_laplacian(features, neighbours):
    """Unnormalised graph Laplacian D - W of the symmetric kNN graph (0/1 weights), sparse
    (CSR): about 2 x neighbours entries per video, never an N x N dense matrix."""
    from scipy.sparse import diags
    from sklearn.neighbors import kneighbors_graph

    k = min(neighbours, len(features) - 1)
    graph = kneighbors_graph(features, k, mode="connectivity", include_self=False)
    graph = graph.maximum(graph.T).tocsr()
    return (diags(np.asarray(graph.sum(1)).ravel()) - graph).tocsr()


class LaplacianKRR:
    """A fitted Laplacian-regularised kernel ridge regression (see ``fit_laplacian_krr``): the
    prediction of x is k(x, landmarks) @ coefficients."""

    def __init__(self, landmarks, coefficients, gamma):
        self.landmarks, self.coefficients, self.gamma = landmarks, coefficients, gamma

    def predict(self, features):
        """(n, word dim) float64, ``ROWS`` videos at a time."""
        from sklearn.metrics.pairwise import rbf_kernel

        out = np.empty((len(features), self.coefficients.shape[1]))
        for b in blocks(len(features)):
            x = np.asarray(features[b], dtype=np.float64)
            out[b] = rbf_kernel(x, self.landmarks, gamma=self.gamma) @ self.coefficients
        return out


class NystromMap:
    """The Nystrom feature map phi(x) = k(x, landmarks) U S^-1/2 of an RBF kernel, with
    K(landmarks, landmarks) = U S U^T: phi(x) . phi(y) = k(x, Z) K_ZZ^+ k(Z, y), which is k(x, y)
    itself when x and y are among the landmarks. Eigenvalues below 1e-12 of the largest are
    dropped (the pseudo-inverse)."""

    def __init__(self, landmarks, gamma):
        from sklearn.metrics.pairwise import rbf_kernel

        self.landmarks, self.gamma = landmarks, gamma
        values, vectors = np.linalg.eigh(rbf_kernel(landmarks, gamma=gamma))
        keep = values > 1e-12 * values[-1]
        self.whiten = vectors[:, keep] / np.sqrt(values[keep])  # U S^-1/2, (m, kept)

    def __call__(self, features):
        from sklearn.metrics.pairwise import rbf_kernel

        x = np.asarray(features, dtype=np.float64)
        return rbf_kernel(x, self.landmarks, gamma=self.gamma) @ self.whiten


def normal_equations(x, y, phi, laplacian):
    """Phi^T Phi, Phi^T Y and Phi^T L Phi over the training videos, ``ROWS`` at a time: Phi is
    never held whole. L Phi of a block needs phi of the block's graph neighbours, computed again
    there (about 2 x neighbours rows per row)."""
    dim = phi.whiten.shape[1]
    gram, moment, smooth = np.zeros((dim, dim)), np.zeros((dim, y.shape[1])), np.zeros((dim, dim))
    for b in blocks(len(x)):
        block = phi(x[b])
        gram += block.T @ block
        moment += block.T @ y[b]
        if laplacian is not None:
            rows = laplacian[b]
            near = np.unique(rows.indices)
            smooth += block.T @ (rows[:, near] @ phi(x[near]))
    return gram, moment, smooth


def fit_laplacian_krr(features, targets, alpha, gamma, laplacian, neighbours, landmarks, seed):
    """Kernel ridge regression with an RBF kernel and Laplacian (manifold) regularisation: the
    paper's pooled-feature baseline (section 4.1). Laplacian-regularised least squares (Belkin,
    Niyogi, Sindhwani 2006) on the training samples, A = (K + alpha I + laplacian L K)^-1 Y,
    where L is the Laplacian of their symmetric kNN graph; it penalises predictions that differ
    between neighbouring videos. ``laplacian=0`` is plain kernel ridge regression.

    Solved on the Nystrom features Phi of ``landmarks`` training videos (drawn with ``seed``):
    W = (Phi^T Phi + alpha I + laplacian Phi^T L Phi)^-1 Phi^T Y, an m x m system, memory
    O(N m + m^2) and no N x N matrix. With N <= ``landmarks`` every video is a landmark, Phi
    Phi^T = K, and the predictions are those of A (to rounding); with fewer, the kernel's rank
    is m. ``gamma=None``: 1 / (n_features * X.var()), as sklearn's "scale".
    """
    x = np.asarray(features)
    x = x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if gamma is None:
        gamma = 1.0 / (x.shape[1] * max(feature_variance(x), 1e-12))
    phi = NystromMap(np.asarray(x[landmark_rows(len(x), landmarks, seed)], np.float64), gamma)
    graph = knn_laplacian(x, neighbours) if laplacian else None
    gram, moment, smooth = normal_equations(x, y, phi, graph)
    system = gram + alpha * np.eye(len(gram)) + laplacian * smooth
    weights = np.linalg.solve((system + system.T) / 2, moment)
    return LaplacianKRR(phi.landmarks, phi.whiten @ weights, gamma)
