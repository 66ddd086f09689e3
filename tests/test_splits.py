"""splits.py: drawing the class splits (ratios, validation classes, held-out videos, TruZe),
checked by hand and for determinism."""

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from action2vec import Action2VecError
from action2vec.dataset import packaged_classes
from action2vec.splits import (held_out_source, read_splits, single_class_warnings, split_classes,
                               split_roles, training_videos, truze_split, draw_splits)

TRUZE_CSV = Path(__file__).parents[1] / "action2vec" / "resources" / "truze_splits.csv"


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


def test_split_needs_two_seen_classes():
    with pytest.raises(ValueError, match="fewer than 2 seen"):
        split_classes(["a", "b", "c"], 0.9, seed=0)


def layout(classes, counts):
    """[(video_id, class)]: the i-th class gets counts[i % len(counts)] videos."""
    return [(f"{c}_v{j}", c) for i, c in enumerate(classes) for j in range(counts[i % len(counts)])]


TWENTY = [f"c{i:02}" for i in range(20)]
VIDEOS = layout(TWENTY, [1, 2, 4, 8])


def draw(ratios=("80_20",), n_splits=3, seed=0, validation=0.2, held_out=0.25, classes=TWENTY,
         videos=VIDEOS, dataset="rendered", exclude=(), marks=None):
    return draw_splits(classes, videos, list(ratios), n_splits, seed, validation, held_out,
                       dataset, exclude, marks)


def test_a_split_partitions_classes_and_videos():
    for split in draw(["80_20", "50_50"])["80_20"] + draw(["50_50"])["50_50"]:
        assert all(split[key] == sorted(split[key]) for key in split)
        assert Counter(split["seen"] + split["validation"] + split["unseen"]) == Counter(TWENTY)
        trained, roles = training_videos(split, VIDEOS), split_roles(split, VIDEOS)
        assert sorted(trained + list(roles)) == sorted(v for v, _ in VIDEOS)
        label = dict(VIDEOS)
        for role, classes in [("unseen", split["unseen"]), ("validation", split["validation"])]:
            assert sorted(v for v, r in roles.items() if r == role) == \
                sorted(v for v, c in VIDEOS if c in classes)
        assert sorted(v for v, r in roles.items() if r == "held_out") == split["held_out"]
        assert {label[v] for v in split["held_out"]} <= set(split["seen"])


def test_counts_of_unseen_validation_and_held_out_by_hand():
    split = draw()["80_20"][0]
    # 20 classes: 4 unseen; round(0.2 * 16) = 3 validation; 13 seen.
    assert [len(split[k]) for k in ("unseen", "validation", "seen")] == [4, 3, 13]
    per_class = Counter(v.split("_")[0] for v in split["held_out"])
    size = Counter(c for _, c in VIDEOS)
    # held_out 0.25: 1 video -> none (it must be trained on); 2 -> round(0.5) = 0, raised to 1;
    # 4 -> 1; 8 -> 2.
    assert {c: per_class[c] for c in split["seen"]} == \
        {c: {1: 0, 2: 1, 4: 1, 8: 2}[size[c]] for c in split["seen"]}
    most = draw(held_out=0.9)["80_20"][0]  # never all of a class: 2 -> 1, 8 -> 7
    assert Counter(v.split("_")[0] for v in most["held_out"]) == \
        {c: size[c] - 1 for c in most["seen"] if size[c] > 1}
    none = draw(validation=0.0, held_out=0.0)["80_20"][0]
    assert none["validation"] == [] and none["held_out"] == [] and len(none["seen"]) == 16
    assert len(draw(validation=0.01)["80_20"][0]["validation"]) == 1  # at least one


def test_random_unseen_classes_are_the_draws_they_always_were():
    splits = draw(["80_20"], n_splits=4)
    for k, split in enumerate(splits["80_20"]):
        rng = np.random.default_rng([0, 80, k])
        assert split["unseen"] == sorted(rng.choice(TWENTY, 4, replace=False).tolist())


def test_splits_are_deterministic_and_stable_when_ratios_or_splits_are_added():
    ucf = packaged_classes("ucf101")
    videos = layout(ucf, [3, 5])
    first = draw(["80_20", "truze"], 2, classes=ucf, videos=videos, dataset="ucf101")
    assert first == draw(["80_20", "truze"], 2, classes=ucf, videos=videos, dataset="ucf101")
    more = draw(["truze", "50_50", "80_20"], 4, classes=ucf, videos=videos, dataset="ucf101")
    assert more["80_20"][:2] == first["80_20"] and more["truze"][:2] == first["truze"]
    assert draw(seed=1)["80_20"] != draw(seed=0)["80_20"]
    assert len({json.dumps(s) for s in more["truze"]}) == 4  # the truze splits differ


@pytest.mark.slow  # a process of its own
def test_splits_do_not_depend_on_the_process():
    # Python salts str hashes per process: a draw seeded from hash() would differ here.
    code = ("import json; from action2vec.splits import draw_splits; print(json.dumps(draw_splits("
            "['a', 'b', 'c', 'd', 'e'], [(f'{c}{j}', c) for c in 'abcde' for j in range(4)], "
            "['80_20'], 2, 0, 0.3, 0.5, 'rendered')))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env={**os.environ, "PYTHONHASHSEED": salt}).stdout
               for salt in ("1", "2")}
    assert len(outputs) == 1


def test_validation_and_held_out_draws_are_independent():
    base = draw(n_splits=2)["80_20"]
    other = draw(n_splits=2, held_out=0.5)["80_20"]
    assert [s["validation"] for s in other] == [s["validation"] for s in base]
    fewer = draw(n_splits=2, validation=0.0)["80_20"]
    for a, b in zip(base, fewer):  # a class seen in both keeps its held-out videos
        assert [v for v in b["held_out"] if v.split("_")[0] in a["seen"]] == a["held_out"]
    # each class draws its own: the classes of 8 videos do not all hold out the same numbers
    eights = [c for c in fewer[0]["seen"] if int(c[1:]) % 4 == 3]
    assert len({tuple(v[-1] for v in fewer[0]["held_out"] if v.startswith(c)) for c in eights}) > 1


def test_the_all_split_trains_and_tests_on_everything():
    everything = draw()["all"]
    assert everything == [{"seen": TWENTY, "validation": [], "unseen": TWENTY, "held_out": []}]
    assert training_videos(everything[0], VIDEOS) == sorted(v for v, _ in VIDEOS)
    assert set(split_roles(everything[0], VIDEOS).values()) == {"unseen"}


def test_training_videos_and_roles_by_hand():
    split = {"seen": ["a", "b"], "validation": ["c"], "unseen": ["d"], "held_out": ["a2"]}
    videos = [("d2", "d"), ("a1", "a"), ("c1", "c"), ("a2", "a"), ("b1", "b"), ("d1", "d")]
    assert training_videos(split, videos) == ["a1", "b1"]
    assert split_roles(split, videos) == {"a2": "held_out", "c1": "validation", "d1": "unseen",
                                          "d2": "unseen"}


def test_too_many_validation_classes_name_the_param():
    # 5 classes at 50_50: 2 unseen (round(2.5) = 2); 0.5 of the other 3 is 2, leaving 1.
    with pytest.raises(Action2VecError, match="zsl.validation: 0.5 of the 3 classes .* leaves 1"):
        draw(["50_50"], classes=TWENTY[:5], videos=VIDEOS[:6], validation=0.5)


def test_a_video_of_an_unknown_class_or_listed_twice_is_an_error():
    with pytest.raises(Action2VecError, match="'x_v0' has class 'x'"):
        draw(videos=VIDEOS + [("x_v0", "x")])
    with pytest.raises(Action2VecError, match="'c01_v0' is listed twice"):
        draw(videos=VIDEOS + [("c01_v0", "c01")])


def test_excluded_classes_are_never_unseen():
    excluded = TWENTY[::2]  # 10 of 20; 50_50 needs all 10 others, 80_20 picks 4 of them
    splits = draw(["80_20", "50_50"], n_splits=10, exclude=excluded)
    assert all(set(s["unseen"]).isdisjoint(excluded) for s in splits["80_20"] + splits["50_50"])
    assert len({tuple(s["unseen"]) for s in splits["80_20"]}) > 1
    with pytest.raises(Action2VecError, match="ratio 80_20: 4 unseen classes .* leakage.exclude "
                                              "leaves only 3 of the 20"):
        draw(exclude=TWENTY[3:])
    with pytest.raises(Action2VecError, match=r"leakage.exclude: classes \['nope'\]"):
        draw(exclude=["nope"])


def truze_csv(dataset):
    with open(TRUZE_CSV, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["dataset"] == dataset]
    return ({r["class"] for r in rows if r["role"] == "seen"},
            {r["class"] for r in rows if r["role"] == "unseen"})


@pytest.mark.parametrize("dataset, n_seen, n_unseen", [("ucf101", 67, 34), ("hmdb51", 29, 22)])
def test_truze_splits_the_published_classes(dataset, n_seen, n_unseen):
    classes = packaged_classes(dataset)
    seen, unseen = truze_split(dataset, classes)
    assert (len(seen), len(unseen)) == (n_seen, n_unseen)
    assert sorted(seen + unseen) == sorted(classes) and seen == sorted(seen)
    assert (set(seen), set(unseen)) == truze_csv(dataset)
    videos = layout(classes, [2, 3])
    splits = draw(["truze"], 3, classes=classes, videos=videos, dataset=dataset,
                  exclude=unseen[:3])  # exclusion does not apply to the fixed split
    for split in splits["truze"]:
        assert split["unseen"] == unseen
        assert len(split["validation"]) == round(0.2 * n_seen)
        assert sorted(split["seen"] + split["validation"]) == seen


def test_truze_on_a_subset_keeps_the_classes_present():
    seen, unseen = truze_csv("hmdb51")
    subset = sorted(seen)[:4] + sorted(unseen)[:2]
    assert truze_split("hmdb51", subset) == (sorted(seen)[:4], sorted(unseen)[:2])
    with pytest.raises(Action2VecError, match="0 of TruZe's unseen"):
        truze_split("hmdb51", sorted(seen)[:4])


def test_truze_names_an_uncovered_dataset_or_unknown_classes():
    with pytest.raises(Action2VecError, match=r"\['hmdb51', 'ucf101'\] only, not for dataset "
                                              "'rendered'"):
        draw(["80_20", "truze"])
    with pytest.raises(Action2VecError, match=r"classes \['Juggling'\] are not in the TruZe list "
                                              "of ucf101"):
        truze_split("ucf101", packaged_classes("ucf101") + ["Juggling"])


def test_read_splits_names_a_ratio_that_was_not_drawn(tmp_path):
    path = tmp_path / "splits.json"
    path.write_text(json.dumps(draw(n_splits=1)))
    assert read_splits(path, "80_20") == draw(n_splits=1)["80_20"]
    with pytest.raises(Action2VecError,
                       match="ratio '50_50' is not in .*drawn: \\['80_20', 'all'\\]"):
        read_splits(path, "50_50")


def test_the_split_column_holds_out_the_videos_marked_test_of_the_seen_classes():
    """Marked test: held out wherever its class is seen; marked train: never held out; the
    unmarked videos of a class are drawn as if the marked ones were not there. The classes
    are drawn as without marks."""
    videos = layout(TWENTY, [8])
    marks = {f"{c}_v{j}": mark for c in TWENTY for j, mark in ((0, "test"), (1, "test"),
                                                              (2, "train"))}
    marked = draw(["80_20", "50_50"], videos=videos, marks=marks)
    plain = draw(["80_20", "50_50"], videos=[(v, c) for v, c in videos if v not in marks])
    for ratio in ("80_20", "50_50"):
        for split, unmarked in zip(marked[ratio], plain[ratio]):
            assert all(split[k] == unmarked[k] for k in ("seen", "validation", "unseen"))
            tests = {f"{c}_v{j}" for c in split["seen"] for j in (0, 1)}
            assert set(split["held_out"]) == tests | set(unmarked["held_out"])
            assert len(unmarked["held_out"]) == len(split["seen"])  # round(0.25 * 5) each
            assert split["held_out_marked"] == len(tests) and "held_out_marked" not in unmarked
    assert held_out_source(marked) == "split column and zsl.held_out"
    assert held_out_source(plain) == "zsl.held_out"
    every = {v: "test" if v.endswith(("_v0", "_v1")) else "train" for v, _ in videos}
    assert held_out_source(draw(videos=videos, marks=every)) == "split column"


def test_without_marks_the_splits_are_unchanged():
    assert draw(marks={}) == draw()
    assert all("held_out_marked" not in s for split in draw().values() for s in split)


def test_a_class_all_of_whose_videos_are_marked_test_is_an_error_naming_it():
    marks = {v: "test" for v, c in VIDEOS if c == "c05"}
    with pytest.raises(Action2VecError, match="class 'c05': all its 2 videos are marked test in "
                                              "the dataset's split column"):
        draw(marks=marks)
    marks["c05_v0"] = "train"
    assert draw(marks=marks)["80_20"]
