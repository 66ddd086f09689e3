"""Action2Vec (embedding.py): loading a project or a model in one, videos and labels as unit
vectors of one space, ranking by cosine and the vector arithmetic, each checked against numpy
computations of its own on the shared pipeline's project (conftest), and what is refused on
small real projects (test_trained.small_project)."""

import os
import shutil

import numpy as np
import pytest

from action2vec import Action2Vec, Action2VecError
from action2vec.embedding import Encoded
from action2vec.labels import read_classes
from action2vec.paths import CLASSES, EMBEDDINGS, MODEL
from action2vec.vectors import load_vectors
from action2vec.video import probe

from conftest import encode, moving_bar
from test_trained import small_project


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# --- small real projects ----------------------------------------------------------------------

def test_a_model_path_loads_the_project_it_lies_in(tmp_path):
    project = small_project(tmp_path / "p")
    by_model = Action2Vec.load(project / MODEL).trained
    assert by_model.project == project.resolve() and by_model.model_path == project / MODEL
    assert Action2Vec.load(project).trained.model_path == project / MODEL
    outside = tmp_path / "m.pt"
    shutil.copy(project / MODEL, outside)
    with pytest.raises(Action2VecError, match=f"^{outside}: a model checkpoint, but no folder "
                                              "above it holds a project's params.yaml"):
        Action2Vec.load(outside)
    with pytest.raises(Action2VecError, match="split-0.pt: model not found; run `dvc repro`"):
        Action2Vec.load(tmp_path / "nothing")


def test_encode_videos_says_what_a_pipe_or_a_device_is(tmp_path):
    """A named pipe or /dev/zero is "not a regular file", never opened (reading one may never
    end), and the others go on; each gets a NaN row and its reason."""
    a2v = Action2Vec.load(small_project(tmp_path / "p"))
    pipe = tmp_path / "pipe.mp4"
    os.mkfifo(pipe)
    called = []
    paths = [pipe, "/dev/zero", tmp_path / "gone.mp4"]
    vectors, results = a2v.encode_videos(paths, on_error=lambda p, m: called.append(f"{p}: {m}"))
    assert vectors.shape == (3, 50) and np.isnan(vectors).all()
    assert results == [Encoded(str(pipe), False, 0, "not a regular file but a named pipe (FIFO)"),
                       Encoded("/dev/zero", False, 0, "not a regular file but a character device"),
                       Encoded(str(paths[2]), False, 0, "no such file")]
    assert called == [f"{r.path}: {r.error}" for r in results]


# --- the shared pipeline's project ------------------------------------------------------------

@pytest.fixture(scope="module")
def a2v(pipeline):
    return Action2Vec.load(pipeline.root)


@pytest.fixture(scope="module")
def saved(pipeline):
    z = np.load(pipeline.root / EMBEDDINGS)
    return list(z["video_id"]), np.array(z["label"]), z["embedding"]


@pytest.fixture(scope="module")
def glove():
    return load_vectors("glove-6b-50d")


def test_encode_videos_gives_unit_rows_and_a_reason_for_each_bad_file(pipeline, a2v, saved,
                                                                      tmp_path):
    ids, _, embeddings = saved
    video = pipeline.root / "data" / "videos" / ids[0]
    whole = video.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole[:len(whole) // 3])
    text = tmp_path / "notes.mp4"
    text.write_text("not a video " * 50)
    vectors, results = a2v.encode_videos([video, truncated, text, video])
    assert vectors.shape == (4, a2v.dim) and vectors.dtype == np.float32
    assert [r.ok for r in results] == [True, False, False, True]
    assert results[0] == Encoded(str(video), True, 3, None)
    decode = a2v.trained.params["decode"]
    reason = probe(truncated, decode["fps"], decode["max_seconds"])["reason"]
    assert reason and results[1] == Encoded(str(truncated), False, 0, reason)  # the check's
    assert results[2] == Encoded(str(text), False, 0, "not a video container")
    np.testing.assert_allclose(np.linalg.norm(vectors[[0, 3]], axis=1), 1, atol=1e-6)
    assert np.isnan(vectors[[1, 2]]).all()
    # the direction of the embedding the pipeline gave this video
    np.testing.assert_allclose(vectors[0], unit(embeddings[0]), atol=1e-4)
    raw, _ = a2v.encode_videos([video], normalised=False)
    np.testing.assert_allclose(raw[0], embeddings[0], atol=1e-4)


def test_encode_videos_reports_a_video_that_decodes_shorter_than_its_check_counted(a2v,
                                                                                  tmp_path,
                                                                                  video_file):
    """A file replaced by a shorter one between its check and its decode (here while the next
    file's check fails) is reported, not embedded from fewer frames."""
    changing, bad = video_file("changing.mp4", n_frames=40), tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video " * 50)
    errors = []

    def on_error(path, message):
        errors.append((str(path), message))
        if path == bad:
            encode(changing, moving_bar(24))

    vectors, results = a2v.encode_videos([changing, bad], on_error=on_error)
    assert errors == [(str(bad), "not a video container"),
                      (str(changing), "truncated: 24 frames decode, the decode stage counted 40")]
    assert [(r.ok, r.clips, r.error) for r in results] == [(False, 0, errors[1][1]),
                                                           (False, 0, errors[0][1])]
    assert np.isnan(vectors).all()


def test_encode_labels_gives_unit_rows_of_the_class_vectors_and_of_phrases(pipeline, a2v, glove):
    classes = read_classes(pipeline.root / CLASSES).vectors
    names = list(classes)[:3]
    vectors = a2v.encode_labels(names + ["fly kite"])
    assert vectors.shape == (4, 50)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(vectors[:3], unit([classes[n] for n in names]), atol=1e-6)
    np.testing.assert_allclose(vectors[3], unit(glove["fly"] + glove["kite"]), atol=1e-6)
    with pytest.raises(Action2VecError, match="'kitee' is not in the word vectors"):
        a2v.encode_labels(["fly kitee"])


def test_rank_orders_labels_by_cosine(a2v, saved, glove):
    _, _, embeddings = saved
    labels = ["throw ball", "kick ball", "fly kite", "spin ring", "swim"]
    label_matrix = np.array([np.mean([glove[w] for w in label.split()], axis=0)
                             if label not in a2v.trained.class_vectors
                             else a2v.trained.class_vectors[label] for label in labels])
    cosine = unit(embeddings[:4]) @ unit(label_matrix).T
    videos = embeddings[:4].copy()
    videos[2] = np.nan  # a video that could not be encoded
    ranked = a2v.rank(videos, labels, k=3)
    assert len(ranked) == 4 and ranked[2] == []
    for i in (0, 1, 3):
        best = np.argsort(-cosine[i], kind="stable")[:3]
        assert [name for name, _ in ranked[i]] == [labels[j] for j in best]
        assert [c for _, c in ranked[i]] == pytest.approx(cosine[i, best], abs=1e-6)
    assert a2v.rank(embeddings[0], labels, k=1) == [ranked[0][:1]]  # one vector


def test_rank_encodes_video_files(pipeline, a2v, saved):
    ids, _, embeddings = saved
    video = str(pipeline.root / "data" / "videos" / ids[1])
    ranked = a2v.rank(video, ["throw ball", "spin ring"], k=2)
    assert [n for n, _ in ranked[0]] == [n for n, _ in a2v.rank(embeddings[1],
                                                                 ["throw ball", "spin ring"])[0]]


def test_analogy_is_a_minus_b_plus_c_nearest_by_distance(a2v, saved, glove):
    _, labels, embeddings = saved
    names = [c for c in a2v.trained.class_vectors if c in set(labels)]
    means = np.array([embeddings[labels == n].mean(0) for n in names])
    vector = means[names.index("throw ball")] - glove["ball"] + glove["ring"]
    distance = np.linalg.norm(means - vector, axis=1)
    cosine = unit(means) @ unit(vector)
    best = np.argsort(distance)[:4]
    found = a2v.analogy("throw ball", "ball", "ring", k=4)
    assert [n for n, _, _ in found] == [names[i] for i in best]
    assert [d for _, d, _ in found] == pytest.approx(distance[best], rel=1e-5)
    assert [c for _, _, c in found] == pytest.approx(cosine[best], abs=1e-5)
    assert a2v.analogy("ThrowBall", "ball", "ring", k=4) == found  # any spelling of a class
