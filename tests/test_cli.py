"""The `action2vec` command end to end on the suite's tiny project (conftest's shared `dvc repro`):
embed, nearest, analogy, export, info. Commands run in this process (cli.main); the console
script that setup.cfg installs is run once, as a process."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from gensim.models import KeyedVectors

from action2vec import Action2VecError
from action2vec.cli import main, parse_expression
from action2vec.labels import read_classes
from action2vec.paths import ANALOGY_EXAMPLES, CLASSES, EMBEDDINGS, MODEL, SEQUENCES
from action2vec.render import render_dataset
from action2vec.vectors import load_vectors
from action2vec.video import probe

from conftest import Done, captured_run

COMMAND = Path(sys.executable).parent / "action2vec"


@pytest.fixture(scope="module")
def project(pipeline):
    return pipeline.root


@pytest.fixture(scope="module")
def new_videos(tmp_path_factory):
    """Videos the project never saw: other random draws of two of its classes, 2 clips each."""
    out = tmp_path_factory.mktemp("new")
    rows = render_dataset(out, seed=7, videos_per_class=1, frames=24, width=160, height=120,
                          classes=["throw ball", "spin ring"], progress=False)
    return [out / path for path, _ in rows]


@pytest.fixture(scope="module")
def glove():
    return load_vectors("glove-6b-50d")


def run(cwd, *args):
    """`action2vec ARGS` in ``cwd``, in this process: exit status, stdout and stderr."""
    args = [str(a) for a in args]
    with captured_run(cwd, ["action2vec", *args], log_format="%(message)s") as (out, err):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse: usage errors
            code = exc.code
    return Done(code, out.getvalue(), err.getvalue())


def saved(project):
    z = np.load(project / EMBEDDINGS)
    return list(z["video_id"]), list(z["label"]), z["embedding"]


def class_mean(project, name):
    _, labels, embeddings = saved(project)
    return embeddings[np.array(labels) == name].mean(0)


def table_rows(text):
    """The numbered rows of a printed table, split at two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()
            if re.match(r"\s+\d+\s", line)]


@pytest.mark.parametrize("tokens, want", [
    (["play piano", "-", "piano", "+", "violin"], [(1, "play piano"), (-1, "piano"),
                                                   (1, "violin")]),
    (["play piano - piano + violin"], [(1, "play piano"), (-1, "piano"), (1, "violin")]),
    (["play", "piano", "-", "piano"], [(1, "play piano"), (-1, "piano")]),
    (["-", "piano", "+", "violin"], [(-1, "piano"), (1, "violin")]),
    (["t-shirt", "+", "x"], [(1, "t-shirt"), (1, "x")]),  # a hyphen inside a word is no operator
    (["ball"], [(1, "ball")]),
])
def test_parse_expression(tokens, want):
    assert parse_expression(tokens) == want


@pytest.mark.parametrize("tokens", [["a", "-", "-", "b"], ["a", "+"], ["-"], [""]])
def test_a_malformed_expression_is_an_error(tokens):
    with pytest.raises(Action2VecError, match="analogy: "):
        parse_expression(tokens)


@pytest.mark.slow  # the console script's process
def test_the_console_script_runs_every_subcommand_s_help(tmp_path):
    top = subprocess.run([str(COMMAND), "--help"], capture_output=True, text=True)
    assert top.returncode == 0
    for command in ("embed", "nearest", "analogy", "export", "info"):
        assert command in top.stdout
        done = run(tmp_path, command, "--help")
        assert done.returncode == 0 and f"usage: action2vec {command}" in done.stdout
    assert run(tmp_path, "nearest").returncode == 2  # argparse: TERM is required
    missing = subprocess.run([str(COMMAND), "nearest", "ball"], cwd=tmp_path, capture_output=True,
                             text=True)
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")
    assert "Traceback" not in missing.stderr


def test_embed_runs_the_trained_pipeline_on_video_files(project, new_videos, tmp_path):
    ids, _, embeddings = saved(project)
    seen_video = project / "data" / "videos" / ids[0]
    out = tmp_path / "e.h5"
    done = run(project, "embed", seen_video, *new_videos, "--out", out, "-k", "3")
    assert done.returncode == 0, done.stderr
    for path in [seen_video, *new_videos]:
        assert str(path) in done.stdout
    with h5py.File(out) as f:
        vectors, ok, clips = f["embedding"][:], f["ok"][:], f["n_clips"][:]
        assert list(f["path"].asstr()[:]) == [str(seen_video), *map(str, new_videos)]
    assert ok.all() and list(clips) == [3, 2, 2]
    # decode -> C3D -> PCA -> padding -> HRNN gives what the pipeline gave this video
    np.testing.assert_allclose(vectors[0], embeddings[0], atol=1e-4)
    # the printed classes are the nearest class word vectors, best first
    classes = read_classes(project / CLASSES).vectors
    names = list(classes)
    matrix = np.array([classes[n] for n in names])
    cosine = matrix @ vectors[1] / np.linalg.norm(matrix, axis=1) / np.linalg.norm(vectors[1])
    block = done.stdout.split(str(new_videos[0]))[1].split("\n\n")[0]
    rows = table_rows(block)
    assert len(rows) == 3
    assert [r[1] for r in rows] == [names[i] for i in np.argsort(-cosine)[:3]]
    assert float(rows[0][2]) == pytest.approx(cosine.max(), abs=1e-3)


def test_embed_reports_each_bad_video_on_one_line_and_finishes_the_others(project, new_videos,
                                                                          tmp_path, video_file):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(np.random.default_rng(0).bytes(4000))
    missing = tmp_path / "missing.mp4"
    whole = video_file("whole.avi", n_frames=60).read_bytes()
    half = tmp_path / "truncated_half.avi"  # decord reads its first frames without an error
    half.write_bytes(whole[:len(whole) // 2])
    out = tmp_path / "e.npy"
    done = run(project, "embed", broken, new_videos[0], missing, half, "--out", out,
               "--plot", tmp_path / "p.png")
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    decode = yaml.safe_load((project / "params.yaml").read_text())["decode"]
    rejected = probe(half, decode["fps"], decode["max_seconds"])["reason"]  # as decode says
    assert rejected.startswith("truncated: header declares 60 frames")
    assert errors == [f"error: {broken}: not a video container",
                      f"error: {missing}: no such file", f"error: {half}: {rejected}"]
    assert "1 of 4 videos embedded; 3 failed" in done.stderr
    assert str(new_videos[0]) in done.stdout
    vectors = np.load(out)
    assert vectors.shape == (4, 50)
    assert np.isnan(vectors[[0, 2, 3]]).all() and np.isfinite(vectors[1]).all()
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_embed_ranks_any_class_names_for_zero_shot(project, new_videos):
    done = run(project, "embed", new_videos[1], "--classes", "kick ball,spin ring,fly kite",
               "-k", "3")
    assert done.returncode == 0, done.stderr
    assert {r[1] for r in table_rows(done.stdout)} == {"kick ball", "spin ring", "fly kite"}
    bad = run(project, "embed", new_videos[1], "--classes", "kick ball,spinn ring")
    assert bad.returncode == 1
    assert "'spinn' is not in the word vectors" in bad.stderr and "spin" in bad.stderr
    assert str(new_videos[1]) not in bad.stdout  # refused before any video work


def test_nearest_to_a_class_and_to_a_word(project, glove):
    done = run(project, "nearest", "ThrowBall", "-k", "4")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("throw ball  (class embedding)")
    rows = table_rows(done.stdout)
    assert len(rows) == 4 and "throw ball" not in [r[1] for r in rows]
    scores = [float(r[2]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    word = run(project, "nearest", "ball", "--vocab", "0")
    assert word.returncode == 0 and word.stdout.startswith("ball  (word vector)")
    words = [r[3] for r in table_rows(word.stdout)]
    want = [w for w, _ in glove.similar_by_vector(glove["ball"], topn=6) if w != "ball"][:5]
    assert words == want


def test_an_unknown_word_is_an_error_with_suggestions(project):
    done = run(project, "nearest", "violinn")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(
        "error: 'violinn' is not in the word vectors (glove-6b-50d, 400000 words) and "
        "'violinn' is not a class name; close words: violin, violins, ")


def test_analogy_is_the_semantics_stage_arithmetic(project, glove):
    done = run(project, "analogy", "throw ball", "-", "ball", "+", "ring")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("throw ball [class] - ball [words] + ring [words]")
    vector = class_mean(project, "throw ball") - glove["ball"] + glove["ring"]
    _, labels, _ = saved(project)
    names = sorted(set(labels))
    distance = {n: np.linalg.norm(class_mean(project, n) - vector) for n in names}
    rows = table_rows(done.stdout.split("nearest word")[0])
    assert rows[0][1] == min(distance, key=distance.get)
    assert float(rows[0][2]) == pytest.approx(min(distance.values()), abs=1e-3)
    stage = [line.split(",") for line in (project / ANALOGY_EXAMPLES).read_text().splitlines()]
    assert ["throw", "ball", "ring", rows[0][1]] in [r[:4] for r in stage]
    # one string, as a shell user might quote it, means the same
    assert run(project, "analogy", "throw ball - ball + ring").stdout == done.stdout


def test_a_malformed_analogy_is_an_error(project):
    done = run(project, "analogy", "throw", "ball", "-", "-", "ring")
    assert done.returncode == 1 and "a term is missing" in done.stderr


def test_export_writes_word2vec_files_gensim_loads(project, tmp_path, glove):
    out = tmp_path / "export"
    done = run(project, "export", "--out", out, "--videos", "--words", "20")
    assert done.returncode == 0, done.stderr
    text = KeyedVectors.load_word2vec_format(str(out / "classes.txt"))
    binary = KeyedVectors.load_word2vec_format(str(out / "classes.bin"), binary=True)
    assert text.index_to_key == binary.index_to_key
    np.testing.assert_allclose(text.vectors, binary.vectors, atol=1e-6)
    ids, labels, embeddings = saved(project)
    classes = sorted(set(labels))
    assert text.index_to_key == [c.replace(" ", "_") for c in classes] + glove.index_to_key[:20]
    np.testing.assert_allclose(binary["throw_ball"], class_mean(project, "throw ball"), atol=1e-6)
    np.testing.assert_allclose(binary["the"], glove["the"], atol=1e-6)
    videos = KeyedVectors.load_word2vec_format(str(out / "videos.bin"), binary=True)
    assert videos.index_to_key == ids
    np.testing.assert_allclose(videos.vectors, embeddings, atol=1e-6)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["dataset"]["name"] == "rendered" and meta["params"]["lambda"] == 0.02
    assert meta["classes"]["throw_ball"] == "throw ball" and meta["n_videos"] == len(ids)
    assert set(meta["metrics"]) >= {"wordnet", "analogy", "pca"}
    assert not list(out.glob("*.tmp"))


def test_info_says_what_each_file_is(project, tmp_path, new_videos):
    run(project, "export", "--out", tmp_path / "x")
    run(project, "embed", new_videos[0], "--out", tmp_path / "e.h5")
    files = {"data/features/shard-00000.h5": "clip feature shard",
             "data/pca/shards/shard-00000.h5": "PCA-projected feature shard",
             SEQUENCES: "padded clip-feature sequences",
             MODEL: "Action2Vec model checkpoint",
             tmp_path / "x" / "classes.txt": "word2vec text vectors",
             tmp_path / "x" / "classes.bin": "word2vec binary vectors",
             tmp_path / "x" / "metadata.json": "action2vec export metadata",
             tmp_path / "e.h5": "action2vec embed output"}
    done = run(project, "info", *files)
    assert done.returncode == 0, done.stderr
    blocks = done.stdout.strip().split("\n\n")
    assert len(blocks) == len(files)
    for block, (path, kind) in zip(blocks, files.items()):
        assert block.startswith(str(path)) and kind in block
    assert re.search(r"videos\s+2\n", blocks[0])  # shards of 2 videos
    assert re.search(r"extractor\s+c3d\n", blocks[0])
    garbage = tmp_path / "garbage.h5"
    garbage.write_text("not hdf5")
    bad = run(project, "info", garbage)
    assert bad.returncode == 1 and f"error: {garbage}: not a readable HDF5 file" in bad.stderr


def test_model_path_override_and_a_project_that_has_not_run(project, tmp_path):
    copy = tmp_path / "model.pt"
    shutil.copy(project / MODEL, copy)  # no saved embeddings beside it: recomputed
    default = run(project, "nearest", "spin ring")
    override = run(project, "nearest", "spin ring", "--model", copy)
    assert override.returncode == 0, override.stderr
    assert override.stdout == default.stdout
    assert f"model {copy}" in override.stderr
    empty = run(tmp_path, "nearest", "ball")
    assert empty.returncode == 1
    assert "data/train/action2vec/all/split-0.pt: model not found; run `dvc repro`" in empty.stderr


def test_malformed_embeddings_beside_a_model_are_one_line_naming_them(project, tmp_path):
    """The .npz beside a --model checkpoint with object arrays, pickled content or missing keys
    ended in tracebacks; now one line names it, and nothing in it runs."""
    model = tmp_path / "model.pt"
    shutil.copy(project / MODEL, model)
    beside = tmp_path / "model.npz"
    with open(beside, "wb") as f:
        np.savez(f, video_id=np.array(["x"], dtype=object), embedding=np.zeros((1, 2)))
    done = run(project, "nearest", "spin ring", "--model", model)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"error: {beside}: not the video embeddings the train stage saves beside {model} "
        "(refused: it holds or is read as pickled data, which could run code; nothing in it was "
        "run); move it away, or run `dvc repro` to write it again")
    with open(beside, "wb") as f:
        np.savez(f, video_id=np.array(["x"]))
    done = run(project, "nearest", "spin ring", "--model", model)
    assert done.stderr.splitlines()[-1].endswith("(no embedding array); move it away, or run "
                                                 "`dvc repro` to write it again")


def test_embed_refuses_class_names_that_tie(project, new_videos, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("Throw Ball\nthrow ball\nthrow_ball\n")
    done = run(project, "embed", new_videos[0], "--classes-file", names)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines()[-1] == (
        f"error: --classes-file {names}: classes 'Throw Ball', 'throw ball' and 'throw_ball' "
        "have the same label text 'throw ball', so they would share one label vector; list "
        "each class once")


def test_embed_walks_a_folder_and_reports_each_file_that_is_not_a_video(project, new_videos,
                                                                        tmp_path):
    folder = tmp_path / "clips"
    (folder / "b" / "deeper").mkdir(parents=True)
    (folder / "a").mkdir()
    (folder / ".cache").mkdir()
    first = Path(shutil.copy(new_videos[0], folder / "a" / "one.mp4"))
    second = Path(shutil.copy(new_videos[1], folder / "b" / "deeper" / "two.mp4"))
    notes = folder / "b" / "notes.txt"
    notes.write_text("not a video " * 50)
    (folder / ".DS_Store").write_bytes(bytes(100))
    shutil.copy(new_videos[0], folder / ".cache" / "three.mp4")
    out = tmp_path / "e.h5"
    done = run(project, "embed", folder, "--out", out)
    assert done.returncode == 1
    assert f"note: {folder}: left out 2 hidden files or folders" in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {notes}: not a video: a text file"]  # reported, not skipped
    assert "2 of 3 videos embedded; 1 failed" in done.stderr
    printed = [line.split("  (")[0] for line in done.stdout.splitlines() if "clips)" in line]
    assert printed == [str(first), str(second)]
    with h5py.File(out) as f:  # every file below the folder, in sorted order
        assert list(f["path"].asstr()[:]) == [str(first), str(second), str(notes)]
        assert list(f["ok"][:]) == [True, True, False]


def test_embed_ranks_the_class_names_of_a_classes_file(project, new_videos, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("# candidates\nkick ball\n\nspin ring\n  fly kite  \n#throw ball\n")
    done = run(project, "embed", new_videos[1], "--classes-file", names, "-k", "3")
    assert done.returncode == 0, done.stderr
    assert {r[1] for r in table_rows(done.stdout)} == {"kick ball", "spin ring", "fly kite"}


def test_embed_refuses_an_empty_folder_before_any_work(tmp_path):
    empty = tmp_path / "empty"
    (empty / "inner").mkdir(parents=True)
    (empty / ".hidden.mp4").write_bytes(bytes(10))
    done = run(tmp_path, "embed", empty)  # tmp_path is no project: refused before loading
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"error: {empty}: no files in this folder"


def test_a_bad_classes_file_is_an_error_naming_it(tmp_path):
    missing, comments, twice = tmp_path / "missing.txt", tmp_path / "c.txt", tmp_path / "t.txt"
    latin, pipe = tmp_path / "latin.txt", tmp_path / "pipe"
    comments.write_text("# nothing yet\n\n   \n")
    twice.write_text("kick ball\n# spin ring\nfly kite\n kick ball\n")
    latin.write_bytes("kick ball\nspin café\n".encode("latin-1"))
    os.mkfifo(pipe)
    errors = {}
    for path in (missing, comments, twice, latin, pipe):
        done = run(tmp_path, "embed", "clip.mp4", "--classes-file", path)
        assert done.returncode == 1
        errors[path] = done.stderr.splitlines()[-1]
    assert errors == {
        missing: f"error: --classes-file {missing}: not found",
        comments: f"error: --classes-file {comments}: no class names (one per line; blank lines "
                  "and lines starting with # are left out)",
        twice: f"error: --classes-file {twice}, line 4: 'kick ball' is already listed on line 1",
        latin: f"error: --classes-file {latin}: not UTF-8 text (byte 0xe9 at offset 18, line 2); "
               "save it as UTF-8",
        pipe: f"error: --classes-file {pipe}: not a regular file but a named pipe (FIFO)"}
    done = run(tmp_path, "embed", "clip.mp4", "--classes", pipe)  # a path: read as a file
    assert done.stderr.splitlines()[-1] == (f"error: --classes {pipe}: not a regular file but a "
                                            "named pipe (FIFO)")


def test_classes_and_a_classes_file_cannot_be_combined(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("kick ball\n")
    done = run(tmp_path, "embed", "clip.mp4", "--classes", "fly kite", "--classes-file", names)
    assert done.returncode == 2
    assert "argument --classes-file: not allowed with argument --classes" in done.stderr
