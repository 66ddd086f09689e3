"""scripts/summary.py, run as `make run` runs it (in this process), on reports written here."""

import json
import runpy

from action2vec.paths import REPORTS

from conftest import ROOT, captured_run


def summary(cwd):
    """What `python scripts/summary.py` prints in ``cwd`` (an error is raised)."""
    with captured_run(cwd, ["summary.py"]) as (out, _):
        runpy.run_path(str(ROOT / "scripts" / "summary.py"), run_name="__main__")
    return out.getvalue()


def test_summary_prints_the_zero_shot_table_and_semantics(tmp_path):
    reports = tmp_path / REPORTS
    reports.mkdir()
    cell = {"top1_mean": 0.65, "top1_std": 0.125, "top5_mean": 1.0, "top5_std": 0.0,
            "n_splits": 2}
    (reports / "zsl.json").write_text(json.dumps(
        {"definitions": {"top1_mean": "mean over splits"},
         "80_20": {"action2vec": {**cell, "top1_low": 0.5, "top1_high": 0.8,
                                  "validation_top1_mean": 0.4, "validation_top1_low": 0.3,
                                  "validation_top1_high": 0.5,
                                  "validation_top1_selected_mean": 0.45, "gzsl_seen_mean": 0.9,
                                  "gzsl_unseen_mean": 0.1, "gzsl_harmonic": 0.18,
                                  "gzsl_harmonic_low": 0.1, "gzsl_harmonic_high": 0.2},
                   "pooled": {**cell, "backbone": "c3d", "layer": "fc7", "random_init": True},
                   "chance": {"top1_mean": 0.2, "top5_mean": 1.0}},
         "50_50": {"action2vec": {**cell, "top1_mean": 0.3}}}))
    (reports / "wordnet.json").write_text(json.dumps(
        {"action2vec": 0.1, "word2vec": 0.4, "pooled": -0.01, "backbone": "i3d",
         "layer": "mixed_5c", "n_classes": 12}))
    (reports / "analogy.json").write_text(json.dumps({"n_comparisons": 0, "accuracy": None}))
    printed = summary(tmp_path)
    lines = printed.splitlines()
    assert lines[1].split() == ["variant", "80_20", "50_50"]
    assert lines[2].split() == ["action2vec", "0.650", "±", "0.125", "[0.50,", "0.80]", "0.300",
                                "±", "0.125"]
    assert lines[3].split() == ["pooled", "(random-init", "c3d", "fc7)", "0.650", "±", "0.125",
                                "-"]
    assert lines[4].split() == ["chance", "0.200", "-"]
    assert lines[8].split() == ["action2vec", "0.900", "/", "0.100", "/", "0.180", "[0.10,",
                                "0.20]", "-"]
    blocks = printed.split("\n\n")
    validation = next(b for b in blocks if b.startswith("validation top-1, unselected"))
    assert validation.splitlines()[2].split() == ["action2vec", "0.400", "[0.30,", "0.50]",
                                                  "(selected", "0.450)", "-"]
    assert ("WordNet vs embeddings (12 verbs, Spearman): word2vec 0.400, action2vec 0.100, "
            "pooled (random-init i3d mixed_5c) -0.010") in printed  # the zsl report says so
    paper = next(b for b in blocks if b.startswith("zero-shot top-1 in percent beside"))
    assert paper.splitlines()[2].split()[:3] == ["50_50", "action2vec", "30.00"]
    assert paper.splitlines()[3].split() == ["80_20", "action2vec", "65.00", "40.11", "/",
                                             "36.51", "/", "22.93"]
    assert "vector arithmetic: 0 comparisons, accuracy -" in printed


def test_summary_prints_label_only_table_3_for_each_label_space(tmp_path):
    reports = tmp_path / REPORTS
    reports.mkdir()

    def figures(spearman):
        return {"verbs": {"spearman": spearman}, "comparisons": 8,
                "paper": {"spearman": 0.2855, "comparisons": None}}

    (reports / "label_semantics.json").write_text(json.dumps(
        {"hmdb51": figures(0.2131), "ucf101": figures(0.1558), "kinetics400": figures(0.2234),
         "word_vectors": "glove-6b-50d", "simulate_root": True,
         "compared": {"minilm": {"hmdb51": figures(0.1793), "ucf101": figures(0.1123),
                                 "kinetics400": figures(0.1169)}}}))
    printed = summary(tmp_path)
    assert "WordNet vs glove-6b-50d over verbs" in printed
    assert "  hmdb51       0.2131 (paper 0.2855)  8 (paper -)" in printed
    assert ("WordNet vs minilm over verbs: hmdb51 0.1793, ucf101 0.1123, kinetics400 0.1169"
            in printed)
