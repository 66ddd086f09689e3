import numpy as np
import pytest

from action2vec import Action2VecError
from action2vec.labels import class_vectors, class_words, load_vectors, read_name_map
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
    name_map = read_name_map()
    assert class_words("Walking", name_map) == ["walk"]
    assert class_words("Apply_Eye-Makeup", {}) == ["apply", "eye", "makeup"]
    custom = tmp_path / "map.csv"
    custom.write_text("name,words\nBlowDryHair,dry hair\n")
    assert class_words("blowdryhair", read_name_map(custom)) == ["dry", "hair"]


def test_missing_word_names_class_and_word(glove):
    with pytest.raises(Action2VecError, match="class 'zorp ball': word 'zorp'"):
        class_vectors(["throw ball", "zorp ball"], glove, {})


def test_every_embedded_class_word_is_in_the_default_vectors(glove):
    vectors = class_vectors(CLASSES, glove, read_name_map())
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
