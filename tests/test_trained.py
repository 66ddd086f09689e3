"""Loading a trained project (trained.py): what is refused before any work, the embeddings saved
beside a model, and the vocabulary that turns class names and words into label vectors, on
small real projects (what needs the shared pipeline's project is in test_embedding.py and
test_cli.py)."""

import pickle

import numpy as np
import pytest
import torch

from action2vec import Action2VecError
from action2vec import trained
from action2vec.cli import main
from action2vec.model import HRNN, HRNNConfig, save_model
from action2vec.paths import PCA_MODEL
from action2vec.trained import Trained, Vocabulary, suggest
from action2vec.vectors import load_space

from conftest import RunsCode


def test_suggest_finds_close_frequent_spellings():
    vocab = ["the", "violin", "violins", "violence", "viola", "xylophone", "violinn2"]
    assert suggest("violinn", vocab, head=6)[:2] == ["violin", "violins"]
    assert "violinn2" in suggest("violinn", vocab)
    assert "violinn2" not in suggest("violinn", vocab, head=6)  # only the most frequent
    assert suggest("qqqq", vocab) == []


def test_nearest_words_rank_the_frequent_words_by_cosine_leaving_out_the_given_ones():
    space = load_space("glove-6b-50d")
    vocabulary = Vocabulary(space, {})
    query = space.vectors["ball"] + 0.5 * space.vectors["kick"]
    words, matrix = space.vocabulary(2000)
    cosine = matrix @ query / np.linalg.norm(matrix, axis=1) / np.linalg.norm(query)
    want = [words[i] for i in np.argsort(-cosine) if words[i] not in ("ball", "kick")][:4]
    found = vocabulary.nearest_words(query, 4, exclude=["Ball", "kick"], vocab=2000)
    assert [w for w, _ in found] == want
    assert [c for _, c in found] == pytest.approx([cosine[words.index(w)] for w in want])


def test_without_a_project_names_are_phrases_and_unknown_words_suggest_spellings():
    """The label encoding the conse command uses (no project classes): a name is the mean of
    its words' vectors; a word with no vector is a one-line error that names it."""
    space = load_space("glove-6b-50d")
    vocabulary = Vocabulary(space, {})
    vectors = vocabulary.label_vectors(["kick ball", "Fly_Kite"])
    want = [(space.vectors["kick"] + space.vectors["ball"]) / 2,
            (space.vectors["fly"] + space.vectors["kite"]) / 2]
    np.testing.assert_allclose(vectors, want, rtol=1e-6)
    with pytest.raises(Action2VecError) as caught:
        vocabulary.label_vectors(["kick ball", "throw violinn"])
    assert str(caught.value).startswith("'violinn' is not in the word vectors (glove-6b-50d, "
                                        "400000 words); close words: violin, violins")


def command(capsys, *args):
    """``action2vec ARGS``, run in-process: (exit status, what it printed on stderr)."""
    status = main([str(a) for a in args])
    return status, capsys.readouterr().err


@pytest.mark.parametrize("subcommand", ["embed", "nearest"])
def test_a_model_that_would_run_code_is_refused_unrun(tmp_path, capsys, video_file,
                                                      subcommand):
    evil, marker = tmp_path / "evil.pt", tmp_path / "MARKER"
    torch.save({"config": RunsCode(marker), "state_dict": {}}, evil)
    term = video_file() if subcommand == "embed" else "ball"
    status, err = command(capsys, subcommand, "--project", tmp_path, "--model", evil, term)
    assert status == 1
    assert err.startswith(f"error: {evil}: refused: not a plain-data checkpoint")
    with pytest.raises(Action2VecError, match="refused: not a plain-data checkpoint"):
        Trained(tmp_path, model=evil)
    assert not marker.exists()


def test_a_pickled_pca_in_the_project_is_refused_unrun(tmp_path, capsys):
    marker = tmp_path / "MARKER"
    model = tmp_path / trained.MODEL
    model.parent.mkdir(parents=True)
    save_model(model, HRNN(HRNNConfig(input_dim=4, embed_dim=3, n_classes=2, lstm1=4, lstm2=4,
                                      attention=0)), {"variant": "action2vec", "steps": 3})
    projection = tmp_path / PCA_MODEL
    projection.parent.mkdir(parents=True)
    projection.write_bytes(pickle.dumps(RunsCode(marker)))
    status, err = command(capsys, "nearest", "--project", tmp_path, "ball")
    assert status == 1
    assert err.startswith(f"error: {projection}: not a PCA projection written by the pca stage "
                          "(refused:")
    assert not marker.exists()


# --- A small real project: what the command reads before it needs the project's videos -------

def small_project(root, classes=("throw ball", "kick ball"), spec="glove-6b-50d", dim=50,
                  texts=None, descriptions=None, seen=None):
    """The files of a trained project that the command loads first, small but real: a model
    (4-d inputs, ``dim``-d embeddings, trained on ``seen``: default ``classes``), its PCA, one
    PCA shard, classes.json (``texts``, ``descriptions``: what the label vectors embed) and
    params.yaml. There are no sequences: what needs the project's videos is tested on the
    shared pipeline (test_cli.py)."""
    from action2vec.labels import write_classes
    from action2vec.paths import CLASSES, MODEL, PCA_SHARDS
    from action2vec.pca import Projection
    from action2vec.shards import write_shard

    from conftest import ROOT

    classes = list(classes)
    (root / MODEL).parent.mkdir(parents=True)
    save_model(root / MODEL, HRNN(HRNNConfig(input_dim=4, embed_dim=dim, n_classes=len(classes),
                                              lstm1=4, lstm2=4, attention=0)),
               {"variant": "action2vec", "steps": 3,
                "split": {"seen": list(seen or classes), "unseen": []}})
    (root / PCA_SHARDS).mkdir(parents=True)
    Projection(np.eye(4, 6), np.zeros(6), 1.0, np.ones(4), np.full(4, 0.2), 40).save(
        root / PCA_MODEL)
    write_shard(root / PCA_SHARDS / "shard-00000.h5", ["v"], [classes[0]], [np.zeros((2, 4))],
                {"extractor": "c3d", "layer": "fc7",
                 "params": {"seed": 0, "decode": {"fps": 30, "max_seconds": 14, "workers": 1},
                            "features": {"weights": None, "stride": 8, "batch_size": 8}}})
    words = [c.split() for c in classes]
    vectors = np.random.default_rng(0).normal(size=(len(classes), dim)).astype(np.float32)
    write_classes(root / CLASSES, spec, classes, words, vectors, texts, descriptions)
    (root / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    return root


def test_names_that_share_a_label_text_are_refused_naming_them(tmp_path, capsys):
    """--classes-file "Throw Ball", "throw ball", "throw_ball" would get one vector: three tied
    answers. Names that share a label text are refused before any video is read, as is a name
    spelled like a project class whose text it shares."""
    project = small_project(tmp_path / "p")
    names = tmp_path / "names.txt"
    names.write_text("Throw Ball\nthrow ball\nthrow_ball\nfly kite\n")
    status, err = command(capsys, "embed", "clip.mp4", "--project", project,
                          "--classes-file", names)
    assert status == 1
    assert err.splitlines()[-1] == (
        f"error: --classes-file {names}: classes 'Throw Ball', 'throw ball' and 'throw_ball' "
        "have the same label text 'throw ball', so they would share one label vector; list "
        "each class once")
    status, err = command(capsys, "embed", "clip.mp4", "--project", project,
                          "--classes", "ThrowBall,fly kite,throw ball")  # the project's class
    assert status == 1
    assert err.splitlines()[-1].startswith(
        "error: --classes: classes 'ThrowBall' and 'throw ball' have the same label text")
    loaded = Trained(project).vocabulary
    with pytest.raises(Action2VecError, match="'ball kick' and 'kick ball' have the same"):
        loaded.label_vectors(["ball kick", "kick ball"])  # a mean of word vectors: one vector
    assert loaded.label_vectors(["ThrowBall", "fly kite"]).shape == (2, 50)


def test_new_names_need_descriptions_when_the_project_embedded_descriptions(tmp_path, capsys):
    """A project whose classes are embedded from descriptions ranks a new name by its
    description in the project's descriptions file; a name it does not describe is refused,
    not ranked as a bare name against descriptions."""
    from action2vec.labels import descriptions_record

    described = tmp_path / "p" / "data" / "descriptions" / "d.csv"
    described.parent.mkdir(parents=True)
    described.write_text("class,description\nthrow ball,a ball flies through the air\n"
                         "kick ball,a foot hits a ball\nfly kite,a kite rises on the wind\n")
    record = {**descriptions_record(described), "file": "data/descriptions/d.csv"}
    project = small_project(tmp_path / "p", spec="minilm", dim=384, descriptions=record,
                            texts=["a ball flies through the air", "a foot hits a ball"])
    status, err = command(capsys, "embed", "clip.mp4", "--project", project,
                          "--classes", "throw ball,zorp,fly kite")
    assert status == 1
    assert err.splitlines()[-1] == (
        "error: --classes: 'zorp': not a class of the project, whose label vectors embed class "
        "descriptions (data/descriptions/d.csv), not names: a new class needs a description "
        "there (a row name,description), or give only the project's classes")
    loaded = Trained(project).vocabulary
    vectors = loaded.label_vectors(["throw ball", "Fly Kite"])
    np.testing.assert_array_equal(vectors[0], loaded.class_vectors["throw ball"])
    description, name = loaded.space.texts(["a kite rises on the wind", "Fly Kite"])
    np.testing.assert_allclose(vectors[1], description, atol=1e-6)
    assert not np.allclose(vectors[1], name, atol=1e-3)


def test_classes_of_another_run_are_refused_before_any_work(tmp_path, capsys):
    """classes.json that does not name the classes the model was trained on (300k other
    classes ended in an AxisError) is refused at load, naming both files."""
    project = small_project(tmp_path / "p", classes=["throw ball", "kick ball"],
                            seen=["throw ball", "swing stick", "roll ring", "lift box"])
    status, err = command(capsys, "nearest", "--project", project, "ball")
    assert status == 1
    assert err.splitlines()[-1] == (
        f"error: {project / 'data/labels/classes.json'}: lacks 3 of the 4 classes "
        f"{project / trained.MODEL} was trained on ('swing stick', 'roll ring' and 'lift box'): "
        "the model and the classes are not of one run of the pipeline; run `dvc repro`")


def write_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("write, problem", [
    (lambda p, m: write_npz(p, video_id=np.array([RunsCode(m)], dtype=object),
                            embedding=np.zeros((1, 3))), "refused: it holds or is read as pickled"),
    (lambda p, m: p.write_bytes(pickle.dumps(RunsCode(m))), "refused: it holds or is read as"),
    (lambda p, m: write_npz(p, video_id=np.array(["a"])), "no embedding array"),
    (lambda p, m: p.write_bytes(b"junk"), "refused: it holds or is read as pickled"),
    (lambda p, m: np.save(open(p, "wb"), np.zeros(3)), "a single array, not an .npz archive"),
    (lambda p, m: write_npz(p, video_id=np.array(["a"]), embedding=np.zeros((1, 4))),
     "embedding is a (1, 4) float64 array, not (1, 3) floats"),
    (lambda p, m: write_npz(p, video_id=np.array([1]), embedding=np.zeros((1, 3))),
     "video_id is a 1-d int64 array, not a 1-d array of strings"),
    (lambda p, m: write_npz(p, video_id=np.array(["a"]), embedding=np.full((1, 3), np.nan)),
     "embedding has values that are not finite"),
], ids=["object arrays", "pickle", "missing key", "junk", "npy", "shape", "ids", "nan"])
def test_saved_embeddings_beside_a_model_are_checked_unrun(tmp_path, write, problem):
    """The .npz beside a --model checkpoint: object arrays, pickled content, missing keys or
    wrong shapes are a one-line error naming it, and nothing in it runs."""
    path, marker = tmp_path / "m.npz", tmp_path / "MARKER"
    write(path, marker)
    with pytest.raises(Action2VecError) as caught:
        trained.saved_embeddings(path, tmp_path / "m.pt", 3)
    assert str(caught.value).startswith(
        f"{path}: not the video embeddings the train stage saves beside {tmp_path / 'm.pt'} (")
    assert problem in str(caught.value) and "allow_pickle" not in str(caught.value)
    assert not marker.exists()
    write_npz(path, video_id=np.array(["a", "b"]), embedding=np.ones((2, 3), np.float32))
    ids, embeddings = trained.saved_embeddings(path, tmp_path / "m.pt", 3)
    assert ids == ["a", "b"] and embeddings.shape == (2, 3)
    assert trained.saved_embeddings(tmp_path / "none.npz", tmp_path / "m.pt", 3) is None
