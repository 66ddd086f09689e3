import csv

import numpy as np

from action2vec.plots import tsne_coordinates, tsne_png, write_confusion_csv

NAMES = ["roll ball", "roll box", "throw ball", "throw box", "spin ring", "spin box",
         "drop stick", "lift box"]


def class_vectors(seed=0):
    """Two clear groups of four class vectors."""
    rng = np.random.default_rng(seed)
    centres = np.repeat([[0.0] * 10, [8.0] * 10], 4, axis=0)
    return centres + rng.normal(scale=0.5, size=centres.shape)


def test_tsne_is_deterministic_for_a_seed():
    vectors = class_vectors()
    first = tsne_coordinates(vectors, seed=3)
    assert first.shape == (8, 2)
    assert np.array_equal(first, tsne_coordinates(vectors, seed=3))


def test_tsne_keeps_the_two_groups_apart():
    xy = tsne_coordinates(class_vectors(), seed=0)
    within = max(np.ptp(xy[:4], axis=0).max(), np.ptp(xy[4:], axis=0).max())
    assert np.linalg.norm(xy[:4].mean(0) - xy[4:].mean(0)) > within


def test_tsne_of_fewer_than_three_points():
    assert tsne_coordinates(np.ones((2, 5)), seed=0).shape == (2, 2)


def test_tsne_png_is_a_real_png(tmp_path):
    path = tmp_path / "plots" / "tsne.png"
    tsne_png(path, class_vectors(), NAMES, seed=0, title="Action2Vec class means")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_confusion_csv_has_one_row_per_video(tmp_path):
    path = tmp_path / "confusion.csv"
    write_confusion_csv(path, ["roll ball", "spin box"], ["roll ball", "roll box"])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"actual": "roll ball", "predicted": "roll ball"},
                    {"actual": "spin box", "predicted": "roll box"}]
