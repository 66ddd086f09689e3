import json

import numpy as np
import pytest

from action2vec import Action2VecError
from action2vec import wordnet
from action2vec.dataset import packaged_classes
from action2vec.labels import (ClassName, class_vectors, class_words, load_vectors, read_classes,
                               read_name_map, write_classes)
from action2vec.render import CLASSES


@pytest.fixture(scope="module")
def glove():
    return load_vectors("glove-6b-50d")


def test_packaged_glove_is_50d_and_semantic(glove):
    assert glove.vector_size == 50 and len(glove.key_to_index) == 400_000
    assert glove.similarity("throw", "toss") > glove.similarity("throw", "swim")


def test_multi_word_names_average_their_words(glove):
    vectors = class_vectors(["throw ball"], glove, {})
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


def test_missing_word_names_class_and_word(glove):
    with pytest.raises(Action2VecError, match="class 'zorp ball': word 'zorp'"):
        class_vectors(["throw ball", "zorp ball"], glove, {})


def test_every_rendered_class_word_is_in_the_default_vectors(glove):
    vectors = class_vectors(CLASSES, glove, read_name_map(dataset="rendered"))
    assert vectors.shape == (len(CLASSES), 50)


def test_word2vec_files_load_and_the_dimension_follows(glove, tmp_path):
    small = glove.vectors_for_all(["throw", "ball", "box"])
    small.save_word2vec_format(str(tmp_path / "v.txt"))
    small.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    for name in ("v.txt", "v.bin"):
        loaded = load_vectors(str(tmp_path / name))
        assert loaded.vector_size == 50
        np.testing.assert_allclose(loaded["ball"], glove["ball"], rtol=1e-5)
    (tmp_path / "bad.bin").write_bytes(b"\x01\x02garbage")
    with pytest.raises(Action2VecError, match="cannot read .*bad.bin"):
        load_vectors(str(tmp_path / "bad.bin"))
    with pytest.raises(Action2VecError, match="neither a packaged"):
        load_vectors("googlenews")


def test_classes_file_round_trips_in_order(tmp_path):
    path = tmp_path / "labels" / "classes.json"
    names, words = ["throw ball", "swim"], [["throw", "ball"], ["swim"]]
    matrix = np.array([[0.1, -1.25, 3.0], [2.5e-8, 0.0, -7.0]], np.float32)
    write_classes(path, "glove-6b-50d", names, words, matrix)
    classes = read_classes(path)
    assert classes.names == names and classes.dim == 3 and classes.spec == "glove-6b-50d"
    assert classes.words == dict(zip(names, words))
    assert np.array_equal(np.array([classes.vectors[n] for n in names], np.float32), matrix)
    assert [p.name for p in path.parent.iterdir()] == ["classes.json"]  # no temporary file


GOOD = {"vectors": "v", "dim": 2, "classes": [{"name": "swim", "words": ["swim"],
                                               "vector": [1.0, 2.0]}]}


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
], ids=["missing", "not JSON", "not a dict", "dim", "no classes", "no name", "twice", "vector",
        "words"])
def test_a_missing_or_malformed_classes_file_is_an_error_naming_it(tmp_path, text, problem):
    path = tmp_path / "classes.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(Action2VecError) as caught:
        read_classes(path)
    assert str(caught.value).startswith(f"{path}: ") and problem in str(caught.value)
    path.write_text(json.dumps(GOOD))
    assert read_classes(path).names == ["swim"]
