"""The whole DVC pipeline on a user's own videos, in a copy of the suite's tiny project: a folder
of class folders (`dvc exp run -S dataset.name=folder -S dataset.root=...`), then the same clips
as a list dataset with a split column (`dvc exp run -S dataset.name=list`), then a class whose
word is not in the vectors."""

import json

import numpy as np
import pandas as pd
import pytest

from action2vec import paths
from action2vec.paths import DECODED, PROTOCOL_REPORT, REJECTED, SPLITS, VIDEOS, ZSL_REPORT

from conftest import copy_of, encode, moving_bar
from project import commit, sh

# CamelCase and underscore names; Skijet's word is not in GloVe, the packaged map gives it
# "jetski" (UCF101's row); RideHorse and walk_dog are in no map and are split.
CLASSES = ["ApplyLipstick", "RideHorse", "Skijet", "brush_hair", "walk_dog"]
NESTED = "ApplyLipstick/day 1/take 2/ApplyLipstick_2.mp4"
TEXT = "Skijet/notes.txt"
# Five classes at 50_50: 2 unseen, 1 validation and 2 seen classes per split. Three videos of 16
# frames (one C3D clip) per class; each split's PCA is fitted on the 4 clips of its seen
# classes' training videos. The rest is the tiny project's settings.
OWN = ["zsl.ratios=['50_50']", "zsl.variants=[action2vec]", "pca.dims=4"]
# The list's split column: video 0 of each class test, video 1 train, video 2 unmarked.
MARKS = {0: "test", 1: "train", 2: ""}


def video_path(name, i):
    return NESTED if (name, i) == ("ApplyLipstick", 2) else f"{name}/{name}_{i}.mp4"


def own_clips(root):
    """Three real H.264 videos (64x48, 16 frames) per class in class folders, one of them two
    folders deeper, a text file that decode rejects, and index.csv, the same videos as a list
    with a split column (for the folder dataset a file directly under the root: skipped)."""
    rows = ["path,class,split"]
    for k, name in enumerate(CLASSES):
        for i in range(3):
            path = root / video_path(name, i)
            path.parent.mkdir(parents=True, exist_ok=True)
            encode(path, np.roll(moving_bar(16, 48, 64), 7 * k + 3 * i, axis=2))
            rows.append(f"{video_path(name, i)},{name},{MARKS[i]}")
    (root / TEXT).write_text("shot list: jetski, lake, morning\n")
    rows.append(f"{TEXT},Skijet,")
    (root / "index.csv").write_text("\n".join(rows) + "\n")
    return root


def outputs(repo):
    """What the assertions read from a finished run."""
    return {name: json.loads((repo / name).read_text())
            for name in (ZSL_REPORT, PROTOCOL_REPORT, SPLITS, paths.CLASSES)}


def exp_run(repo, *settings, check=True):
    return sh(repo, "dvc", "exp", "run", *(a for s in settings for a in ("-S", s)), check=check)


@pytest.fixture(scope="module")
def folder_run(pipeline, tmp_path_factory):
    base = tmp_path_factory.mktemp("own")
    clips = own_clips(base / "clips")
    repo = copy_of(pipeline, base / "project")
    repro = exp_run(repo, "dataset.name=folder", f"dataset.root={clips}", *OWN)
    found = outputs(repo)
    found["rejected"] = pd.read_csv(repo / REJECTED)
    found["decoded"] = pd.read_csv(repo / DECODED)
    found["videos"] = sorted(p.name for p in (repo / VIDEOS).iterdir())
    commit(repo, "folder dataset")
    return repo, base, repro, found


@pytest.fixture(scope="module")
def list_run(folder_run):
    repo = folder_run[0]
    exp = exp_run(repo, "dataset.name=list")
    return repo, exp, outputs(repo)


def test_a_folder_dataset_runs_the_whole_pipeline(folder_run):
    _, base, repro, found = folder_run
    for stage in ("render", "decode", "labels", "extract", "splits", "train", "evaluate",
                  "semantics"):
        assert f"Running stage '{stage}'" in repro.stdout
    assert "dataset.name is folder: nothing to render, data/videos left empty" in repro.stderr
    assert found["videos"] == []
    assert (f"1 file(s) directly under {base / 'clips'} belong to no class folder: skipped "
            "(index.csv)") in repro.stderr
    decoded = found["decoded"].set_index("id")
    assert decoded.loc[NESTED, "class"] == "ApplyLipstick" and "split" not in decoded
    assert (decoded.status == "ok").sum() == 15
    assert found["rejected"][["id", "class", "reason"]].values.tolist() == [
        [TEXT, "Skijet", "not a video container"]]
    words = {c["name"]: c["words"] for c in found[paths.CLASSES]["classes"]}
    assert words == {"ApplyLipstick": ["apply", "lipstick"], "RideHorse": ["ride", "horse"],
                     "Skijet": ["jetski"], "brush_hair": ["brush", "hair"],
                     "walk_dog": ["walk", "dog"]}
    scores = found[ZSL_REPORT]["50_50"]["action2vec"]
    assert scores["n_splits"] == 2 and 0 <= scores["top1_mean"] <= 1
    assert found[PROTOCOL_REPORT]["held_out_from"] == "zsl.held_out"
    assert all("held_out_marked" not in s for s in found[SPLITS]["50_50"])


def test_a_list_dataset_holds_out_the_videos_its_split_column_marks_test(list_run):
    repo, exp, found = list_run
    for stage in ("decode", "splits", "train", "evaluate"):
        assert f"Running stage '{stage}'" in exp.stdout
    assert "15 videos already extracted, 0 to do" in exp.stderr  # the same ids: reused
    for split in found[SPLITS]["50_50"]:
        assert split["held_out"] == sorted(video_path(c, 0) for c in split["seen"])
        assert split["held_out_marked"] == len(split["seen"]) == 2
    assert found[PROTOCOL_REPORT]["held_out_from"] == "split column"
    assert found[ZSL_REPORT]["50_50"]["action2vec"]["n_splits"] == 2
    shown = sh(repo, "dvc", "metrics", "show").stdout
    assert "metrics/zsl.json" in shown and "50_50.action2vec.top1_mean" in shown


def test_a_class_word_missing_from_the_vectors_stops_the_pipeline_before_extraction(list_run):
    repo = list_run[0]
    bad = repo.parent / "bad"
    for name in ("Zorpify", "walk_dog"):
        (bad / name).mkdir(parents=True)
        encode(bad / name / "a.mp4", moving_bar(16, 48, 64))
    done = exp_run(repo, "dataset.name=folder", f"dataset.root={bad}", check=False)
    assert done.returncode != 0
    assert "error: class 'Zorpify': word 'zorpify' is not in the word vectors" in done.stderr
    assert "Running stage 'labels'" in done.stdout
    assert "Running stage 'extract'" not in done.stdout
