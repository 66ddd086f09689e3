"""Plots: a t-SNE map of class vectors (the paper's Figure 2) and the per-video CSV that
``dvc plots`` draws as a confusion matrix (template ``confusion``)."""

import csv
from pathlib import Path

import numpy as np


def tsne_coordinates(vectors, seed):
    """(n, 2) t-SNE of ``vectors``, deterministic for a seed (PCA initialisation).

    Perplexity min(30, (n - 1) / 3): t-SNE needs it below n, and near n - 1 every point is
    an equal neighbour of every other, which wipes out groups (e.g. 24 classes); a third of
    the points keeps them. Fewer than three points are placed on a line.
    """
    from sklearn.manifold import TSNE

    x = np.asarray(vectors, dtype=np.float64)
    n = len(x)
    if n < 3:
        return np.column_stack([np.arange(n, dtype=np.float64), np.zeros(n)])
    tsne = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca",
                random_state=seed)
    return tsne.fit_transform(x)


def tsne_png(path, vectors, names, seed, title, marked=0):
    """A labelled scatter of the t-SNE of class vectors, written as a PNG; the last ``marked``
    points (e.g. new videos among the classes) are drawn as red crosses."""
    from matplotlib.figure import Figure

    xy = tsne_coordinates(vectors, seed)
    fig = Figure(figsize=(9, 9), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    split = len(xy) - marked
    ax.scatter(xy[:split, 0], xy[:split, 1], s=18, color="tab:blue")
    ax.scatter(xy[split:, 0], xy[split:, 1], s=60, color="tab:red", marker="x")
    size = 9 if len(names) <= 60 else 6
    for i, ((x, y), name) in enumerate(zip(xy, names)):
        ax.annotate(name, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=size,
                    color="tab:red" if i >= split else "black")
    ax.margins(0.12)  # room for the labels of the outermost points
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")


def write_confusion_csv(path, actual_names, predicted_names):
    """CSV with columns ``actual,predicted``, one row per test video."""
    if len(actual_names) != len(predicted_names):
        raise ValueError(f"{len(actual_names)} actual names but {len(predicted_names)} "
                         "predicted names")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["actual", "predicted"])
        writer.writerows(zip(actual_names, predicted_names))
