"""The pooled-feature baseline of section 4.1: each video's features averaged over time, mapped
to word vectors by kernel ridge regression with Laplacian regularisation. The paper pools C3D
fc7; here it pools whatever backbone and layer the features stage used, so the metrics call it
``pooled`` and record the backbone and layer beside it."""

import numpy as np

NAME = "pooled"  # the baseline's name in metrics/zsl.json and metrics/wordnet.json


def features_used(features):
    """The backbone and layer the baseline pooled, from the ``features`` params, to record
    beside its scores: {"backbone": "c3d", "layer": "fc7"}."""
    return {"backbone": features["backbone"], "layer": features["layer"]}


def pooled(sequences, lengths):
    """Mean of each video's features over its true length (the pooled-feature baseline input)."""
    mask = np.arange(sequences.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return (sequences * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)


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
