import json

import numpy as np
import pytest

from action2vec import Action2VecError
from action2vec.zsl import (confusion, draw_splits, read_splits, single_class_warnings,
                            split_classes, top_k_accuracy, zero_shot_report)

VECTORS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def test_perfect_embedding_is_always_right_whatever_its_scale():
    embeddings = VECTORS[[0, 1, 2, 2]] * np.array([[3.0], [0.1], [7.0], [1.0]])
    assert top_k_accuracy(embeddings, [0, 1, 2, 2], VECTORS, 1) == 1.0


def test_wrong_nearest_but_within_top_two():
    embeddings = np.array([[0.9, 0.5, 0.0]])  # nearest class 0; class 1 second
    assert top_k_accuracy(embeddings, [1], VECTORS, 1) == 0.0
    assert top_k_accuracy(embeddings, [1], VECTORS, 2) == 1.0


def test_report_caps_top5_at_the_number_of_classes():
    report = zero_shot_report(np.array([[0.0, 0.0, 1.0]]), [0], VECTORS)
    assert report == {"top1": 0.0, "top5": 1.0}


def test_confusion_counts_by_hand():
    matrix = confusion([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 4)
    assert matrix.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]


def test_single_class_warnings_name_the_ratio_and_the_split_count():
    splits = {"50_50": [{"unseen": ["a", "b"]}] * 3,
              "90_10": [{"unseen": ["a"]}, {"unseen": ["a", "b"]}, {"unseen": ["c"]}],
              "all": [{"unseen": ["a"]}]}
    assert single_class_warnings(splits) == [
        "ratio 90_10: 2 of 3 splits hold out a single class, whose top-1 is 1.0 by construction; "
        "use more classes or a larger unseen fraction"]


CLASSES = [f"c{i}" for i in range(10)]


def test_split_is_seeded_disjoint_and_complete():
    seen, unseen = split_classes(CLASSES, 0.2, seed=1)
    assert len(unseen) == 2 and sorted(seen + unseen) == sorted(CLASSES)
    assert split_classes(CLASSES, 0.2, seed=1) == (seen, unseen)
    assert any(split_classes(CLASSES, 0.2, seed=s)[1] != unseen for s in range(2, 6))


def test_drawn_splits_follow_the_ratios_and_are_stable():
    classes = [f"c{i}" for i in range(20)]
    splits = draw_splits(classes, ["50_50", "90_10"], 3, seed=0)
    assert [len(s["unseen"]) for s in splits["50_50"]] == [10, 10, 10]
    assert [len(s["unseen"]) for s in splits["90_10"]] == [2, 2, 2]
    assert len({tuple(s["unseen"]) for s in splits["50_50"]}) == 3  # three different splits
    assert splits["all"] == [{"seen": sorted(classes), "unseen": sorted(classes)}]
    more = draw_splits(classes, ["90_10", "50_50"], 5, seed=0)
    assert more["50_50"][:3] == splits["50_50"]  # more splits keep the earlier ones


def test_split_needs_two_seen_classes():
    with pytest.raises(ValueError, match="fewer than 2 seen"):
        split_classes(["a", "b", "c"], 0.9, seed=0)


def test_read_splits_names_a_ratio_that_was_not_drawn(tmp_path):
    path = tmp_path / "splits.json"
    path.write_text(json.dumps(draw_splits(CLASSES, ["80_20"], 1, seed=0)))
    assert read_splits(path, "80_20") == draw_splits(CLASSES, ["80_20"], 1, seed=0)["80_20"]
    with pytest.raises(Action2VecError, match="ratio '50_50' is not in .*drawn: \\['80_20', 'all'\\]"):
        read_splits(path, "50_50")
