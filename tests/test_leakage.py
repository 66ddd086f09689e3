"""The leakage report: nearest pretraining classes and flags, the threshold's calibration on the
TruZe splits, the report file and its reader, and the stage in a temporary project."""

import csv
import json
import math

import numpy as np
import pytest
import yaml

from action2vec.dataset import packaged_classes
from action2vec.labels import class_vectors, class_words, read_name_map, write_classes
from action2vec.leakage import (REVIEWED, balanced_accuracy, calibrate_on_truze,
                                calibrate_threshold, label_only, leakage_classes, out_of_sample,
                                packaged_vectors, pretraining, reviewed_overlap)
from action2vec.leakage_report import read_leakage
from action2vec.paths import CLASSES, LEAKAGE, LEAKAGE_REPORT
from action2vec.vectors import load_space

from conftest import ROOT, run_stage, stage_project

THRESHOLD = yaml.safe_load((ROOT / "params.yaml").read_text())["leakage"]["threshold"]


@pytest.fixture(scope="module")
def glove():
    return load_space("glove-6b-50d")


def test_nearest_classes_and_flags_match_a_plain_computation():
    rng = np.random.default_rng(3)
    own, others = rng.normal(size=(6, 4)), rng.normal(size=(5, 4))
    own[0] = 7 * others[2]  # the same direction: cosine 1 whatever the length
    own[1] = others[4] + 1e-3 * rng.normal(size=4)
    names, other_names = [f"c{i}" for i in range(6)], [f"k{j}" for j in range(5)]
    expected = {}
    for name, u in zip(names, own.tolist()):
        cosines = [sum(a * b for a, b in zip(u, v)) / math.hypot(*u) / math.hypot(*v)
                   for v in others.tolist()]
        j = max(range(5), key=cosines.__getitem__)
        expected[name] = (other_names[j], cosines[j])
    threshold = 0.5
    got = leakage_classes(names, own, other_names, others, threshold)
    assert list(got) == names
    for name, (nearest, cosine) in expected.items():
        assert got[name]["nearest"] == nearest
        assert got[name]["cosine"] == pytest.approx(cosine, abs=1e-6)
        assert got[name]["flagged"] is (round(cosine, 6) >= threshold)
    assert got["c0"] == {"nearest": "k2", "cosine": 1.0, "flagged": True}
    assert got["c1"]["nearest"] == "k4" and got["c1"]["flagged"]
    assert {n for n, e in got.items() if not e["flagged"]}, "pick a threshold that splits them"
    at = leakage_classes(["c"], [[1.0, 1.0]], ["k"], [[1.0, 0.0]], round(math.sqrt(0.5), 6))
    assert at["c"]["flagged"], "a cosine equal to the threshold is flagged"


def test_balanced_accuracy_and_calibration_on_hand_cases():
    cosines = [0.99, 0.95, 0.93, 0.90, 0.85, 0.80]
    unseen = [False, False, True, False, True, True]
    # At 0.92: the others 2 of 3 flagged, the unseen 2 of 3 left unflagged.
    assert balanced_accuracy(cosines, unseen, 0.92) == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert balanced_accuracy(cosines, unseen, 0.90) == pytest.approx((1 + 2 / 3) / 2)
    # 0.86 .. 0.90 and 0.94 .. 0.95 all score 5/6; the lowest of the tie is returned.
    assert calibrate_threshold(cosines, unseen) == (0.86, pytest.approx(5 / 6))
    assert calibrate_threshold([0.9, 0.1], [False, True], decimals=1) == (0.2, 1.0)


def test_the_threshold_in_params_is_the_one_calibrated_on_truze(glove):
    tables = label_only(glove, THRESHOLD)
    threshold, accuracy = calibrate_on_truze(tables)
    assert threshold == THRESHOLD, (f"calibrate_on_truze gives {threshold} (balanced accuracy "
                                    f"{accuracy:.4f}); params.yaml leakage.threshold holds "
                                    f"{THRESHOLD}")
    assert {len(t) for t in tables.values()} == {101, 51}
    assert sum(r["truze_unseen"] for t in tables.values() for r in t.values()) == 34 + 22


def test_a_user_name_map_overrides_the_packaged_words_of_pretraining_classes(glove, tmp_path):
    names, packaged = packaged_vectors("kinetics400", glove)
    user = tmp_path / "map.csv"
    user.write_text("name,words\nthrowing ball,juggle stone\n")
    _, mapped = packaged_vectors("kinetics400", glove, user)
    row = names.index("throwing ball")
    stone = class_vectors(["x"], glove, {"x": read_name_map(user)["throwing ball"]})[0]
    assert np.allclose(mapped[row], stone) and not np.allclose(packaged[row], stone)
    assert np.array_equal(np.delete(mapped, row, 0), np.delete(packaged, row, 0))


def test_c3d_has_no_pretraining_list_and_says_why():
    dataset, reason = pretraining("c3d", None)
    assert dataset is None and "randomly initialised" in reason
    dataset, reason = pretraining("c3d", "c3d-sports1m.pth")
    assert dataset is None and "Sports-1M" in reason and "not available offline" in reason
    assert pretraining("i3d", None) == ("kinetics400", None)


def write_project_classes(tmp_path, glove, names):
    name_map = read_name_map()
    write_classes(tmp_path / CLASSES, "glove-6b-50d", names, [n.split() for n in names],
                  class_vectors(names, glove, name_map))


def test_the_stage_writes_the_table_and_the_report(tmp_path, glove):
    stage_project(tmp_path, features={"backbone": "i3d", "layer": "mixed_5c"})
    write_project_classes(tmp_path, glove, ["throw ball", "pour tea", "knit"])
    done = run_stage(tmp_path, "leakage")
    assert done.returncode == 0, done.stderr
    report = read_leakage(tmp_path / LEAKAGE)
    assert report.available and report.pretraining == "kinetics400" and report.reason is None
    assert report.threshold == THRESHOLD
    assert report.classes["throw ball"] == {"nearest": "throwing ball", "cosine": 1.0,
                                            "flagged": True}
    assert report.classes["knit"]["nearest"] == "knitting" and "knit" in report.flagged
    assert report.flagged == sorted(n for n, e in report.classes.items()
                                    if e["cosine"] >= THRESHOLD)
    written = json.loads((tmp_path / LEAKAGE_REPORT).read_text())
    assert (written["n_classes"], written["n_flagged"]) == (3, len(report.flagged))
    tables = json.loads((tmp_path / LEAKAGE).read_text())["label_only"]
    label_only_counts = written["label_only"]
    assert label_only_counts["calibrated_threshold"] == THRESHOLD
    for dataset in ("ucf101", "hmdb51"):
        rows = tables[dataset].values()
        counts = label_only_counts[dataset]
        assert counts["n_flagged"] == sum(r["flagged"] for r in rows) > 0
        assert counts["truze_unseen_flagged"] == sum(r["flagged"] and r["truze_unseen"]
                                                     for r in rows)
        assert (counts["truze_unseen_flagged"] + counts["truze_unseen_unflagged"]
                == counts["n_truze_unseen"] == sum(r["truze_unseen"] for r in rows))


def test_the_stage_without_a_pretraining_list_writes_a_reason(tmp_path, glove):
    stage_project(tmp_path, features={"backbone": "c3d", "layer": "fc7", "weights": None})
    write_project_classes(tmp_path, glove, ["throw ball", "pour tea"])
    done = run_stage(tmp_path, "leakage")
    assert done.returncode == 0, done.stderr
    report = read_leakage(tmp_path / LEAKAGE)
    assert not report.available and report.classes == {} and report.flagged == []
    assert "randomly initialised" in report.reason
    written = json.loads((tmp_path / LEAKAGE_REPORT).read_text())
    assert written["pretraining"] is None and written["n_flagged"] is None
    assert written["reason"] == report.reason and written["n_classes"] == 2


def test_the_reviewed_table_covers_every_class_once_with_a_reason():
    names = {d: set(packaged_classes(d)) for d in ("ucf101", "hmdb51", "kinetics400")}
    rows = list(csv.DictReader((ROOT / "action2vec/resources" / REVIEWED).open()))
    for dataset in ("ucf101", "hmdb51"):
        listed = [r["class"] for r in rows if r["dataset"] == dataset]
        assert sorted(listed) == sorted(names[dataset])  # every class, once
    for row in rows:
        assert row["reason"].strip() and "\n" not in row["reason"]
        assert set(filter(None, row["kinetics400"].split("|"))) <= names["kinetics400"]
    table = reviewed_overlap()
    # decided by the classes' definitions, not by their words
    assert table["ucf101"]["Lunges"] == ["lunge"] and table["hmdb51"]["pullup"] == ["pull ups"]
    assert table["ucf101"]["JumpRope"] == ["skipping rope"] and table["ucf101"]["HorseRace"] == []
    assert "kicking soccer ball" in table["hmdb51"]["kick_ball"]
    assert "throwing ball" not in table["hmdb51"]["kick_ball"]


def test_out_of_sample_tunes_on_one_dataset_and_measures_on_the_other():
    """Recomputed by brute force: the best 0.01 threshold on the first dataset against the
    reviewed table (lowest of ties), then its balanced accuracy on the second."""
    def table(cosines, counterpart):
        return {f"c{i}": {"cosine": c, "reviewed": ["k"] if r else []}
                for i, (c, r) in enumerate(zip(cosines, counterpart))}
    tables = {"ucf101": table([1.0, 0.95, 0.8, 0.7], [True, True, False, False]),
              "hmdb51": table([1.0, 0.9, 0.85, 0.6], [True, False, True, False])}
    out = out_of_sample(tables)
    # on ucf101 every threshold in (0.80, 0.95] separates perfectly: the lowest is 0.81
    assert out["ucf101->hmdb51"]["threshold"] == 0.81
    # on hmdb51 at 0.81: counterparts 1.0 and 0.85 flagged (2/2), 0.9 flagged wrongly (1/2 left)
    assert out["ucf101->hmdb51"]["balanced_accuracy"] == 0.75
    assert out["ucf101->hmdb51"]["exact_match_balanced_accuracy"] == 0.75  # 1 of 2; 2 of 2
    # on hmdb51, 0.61 to 0.85 and 0.91 to 1.0 tie at 0.75: the lowest, 0.61, flags all of ucf101
    assert out["hmdb51->ucf101"]["threshold"] == 0.61
    assert out["hmdb51->ucf101"]["balanced_accuracy"] == 0.5


def test_the_stage_flags_ucf101_by_the_reviewed_table(tmp_path, glove):
    stage_project(tmp_path, dataset={"name": "ucf101", "root": str(tmp_path / "none")},
                  features={"backbone": "i3d", "layer": "mixed_5c"})
    names = ["Lunges", "HorseRace", "PlayingSitar"]
    name_map = read_name_map(dataset="ucf101")
    write_classes(tmp_path / CLASSES, "glove-6b-50d", names,
                  [class_words(n, name_map) for n in names], class_vectors(names, glove, name_map))
    done = run_stage(tmp_path, "leakage")
    assert done.returncode == 0, done.stderr
    report = read_leakage(tmp_path / LEAKAGE)
    assert report.flagged_by == "reviewed table" and report.flagged == ["Lunges"]
    assert report.classes["HorseRace"]["reviewed"] == []
