"""The leakage report file: written and read back, and a malformed or missing one named."""

import json

import pytest

from action2vec import Action2VecError
from action2vec.leakage_report import read_leakage, write_leakage


def test_the_report_reads_back(tmp_path):
    classes = {"b": {"nearest": "x", "cosine": 0.95, "flagged": True},
               "a": {"nearest": "y", "cosine": 0.99, "flagged": True},
               "c": {"nearest": "x", "cosine": 0.5, "flagged": False}}
    write_leakage(tmp_path / "l.json", "i3d", "kinetics400", None, 0.9, classes)
    report = read_leakage(tmp_path / "l.json")
    assert report.available and report.flagged == ["a", "b"] and report.classes == classes
    assert (report.backbone, report.pretraining, report.threshold) == ("i3d", "kinetics400", 0.9)
    write_leakage(tmp_path / "n.json", "c3d", None, "no list", 0.9, {})
    report = read_leakage(tmp_path / "n.json")
    assert not report.available and report.flagged == [] and report.reason == "no list"


GOOD = {"backbone": "i3d", "pretraining": "kinetics400", "reason": None, "threshold": 0.9,
        "classes": {"a": {"nearest": "x", "cosine": 0.95, "flagged": True}}}


@pytest.mark.parametrize("text, problem", [
    ("{not json", "JSONDecodeError"),
    (json.dumps([GOOD]), "not a JSON object"),
    (json.dumps({**GOOD, "backbone": None}), "'backbone'"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "reason"}), "'reason'"),
    (json.dumps({**GOOD, "threshold": "high"}), "'threshold'"),
    (json.dumps({**GOOD, "classes": []}), "'classes'"),
    (json.dumps({**GOOD, "pretraining": None}), "without a 'pretraining'"),
    (json.dumps({**GOOD, "classes": {"a": {"nearest": "x", "cosine": 0.9, "flagged": 1}}}),
     "class 'a'"),
    (json.dumps({**GOOD, "classes": {"a": {"nearest": "x", "cosine": True, "flagged": True}}}),
     "class 'a'"),
])
def test_a_malformed_report_is_an_error_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "leakage.json"
    path.write_text(text)
    with pytest.raises(Action2VecError, match="leakage.json") as error:
        read_leakage(path)
    assert problem in str(error.value)


def test_a_missing_report_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(Action2VecError, match=f"{tmp_path / 'missing.json'}: not found"):
        read_leakage(tmp_path / "missing.json")
