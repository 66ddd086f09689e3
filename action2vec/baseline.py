"""The pooled-feature baseline of section 4.1: each video's features averaged over time, mapped
to word vectors by kernel ridge regression with Laplacian regularisation. The paper pools C3D
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


def pooled_features(directory, index):
    """(videos, feature dim) float64: each video of ``index`` (a sequence file's Index) averaged
    over the clips its sequence keeps (the first ``steps``), from the backbone's raw features in
    ``directory``, in the index's order."""
    wanted = dict(zip(index.video_id, index.lengths))
    out = {}
    for video, _, features in iter_videos(directory):
        if video in wanted:
            out[video] = np.asarray(features[:wanted[video]], dtype=np.float64).mean(0)
    missing = [v for v in index.video_id if v not in out]
    if missing:
        raise Action2VecError(f"{directory} has no features for {len(missing)} videos of the "
                              f"sequence file (e.g. {missing[:3]}); run `dvc repro`")
    return np.stack([out[v] for v in index.video_id])


class LaplacianKRR:
    """A fitted Laplacian-regularised kernel ridge regression (see ``fit_laplacian_krr``)."""

    def __init__(self, train, coefficients, gamma):
        self.train, self.coefficients, self.gamma = train, coefficients, gamma

    def predict(self, features):
        from sklearn.metrics.pairwise import rbf_kernel

        kernel = rbf_kernel(np.asarray(features, dtype=np.float64), self.train, gamma=self.gamma)
        return kernel @ self.coefficients


def knn_laplacian(features, neighbours):
    """Unnormalised graph Laplacian D - W of the symmetric kNN graph (0/1 weights)."""
    from sklearn.neighbors import kneighbors_graph

    k = min(neighbours, len(features) - 1)
    graph = kneighbors_graph(features, k, mode="connectivity", include_self=False).toarray()
    graph = np.maximum(graph, graph.T)
    return np.diag(graph.sum(1)) - graph


def fit_laplacian_krr(features, targets, alpha, gamma, laplacian, neighbours):
    """Kernel ridge regression with an RBF kernel and Laplacian (manifold) regularisation: the
    paper's pooled-feature baseline (section 4.1). Laplacian-regularised least squares (Belkin,
    Niyogi, Sindhwani 2006) on the training samples: A = (K + alpha I + laplacian L K)^-1 Y,
    where L is the Laplacian of their symmetric kNN graph; it penalises predictions that differ
    between neighbouring videos. ``laplacian=0`` is plain kernel ridge regression.
    ``gamma=None``: 1 / (n_features * X.var()), as sklearn's "scale".
    """
    from sklearn.metrics.pairwise import rbf_kernel

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if gamma is None:
        gamma = 1.0 / (x.shape[1] * max(float(x.var()), 1e-12))
    kernel = rbf_kernel(x, gamma=gamma)
    system = kernel + alpha * np.eye(len(x))
    if laplacian:
        system += laplacian * knn_laplacian(x, neighbours) @ kernel
    return LaplacianKRR(x, np.linalg.solve(system, y), gamma)
