"""A trained project, loaded: the model, PCA, extraction settings, class vectors and label space
that a DVC project's outputs hold (what ``dvc repro`` writes), checked to be of one run of the
pipeline; and the vocabulary of its label space, which turns class names and words into label
vectors. embedding.py makes them one object for users (Action2Vec).

The model can be any checkpoint the train stage wrote. A class's embedding is the mean Action2Vec
embedding of its videos (as in the paper's Figure 2 and section 4.2); words are embedded as a
phrase in the project's label space (vectors.py): the mean of their word vectors (section 3.2),
or the sentence model's embedding of the phrase.
"""

import difflib
import functools
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from action2vec import Action2VecError, params
from action2vec.dataset import name_map_rows
from action2vec.files import file_problem
from action2vec.labels import (check_distinct, class_name, description_rows, listed,
                               read_classes, read_name_map)
from action2vec.paths import CLASSES, MODEL, PARAMS, PCA_MODEL, PCA_SHARDS, SEQUENCES
from action2vec.pca import PICKLE_REFUSED, Projection
from action2vec.progress import bar as progress_bar
from action2vec.scoring import top_k
from action2vec.sequences import iter_batches, read_index
from action2vec.semantics import class_means
from action2vec.shards import read_attrs, shard_paths
from action2vec.vectors import PACKAGED_VECTORS, SENTENCE_MODELS, load_space

# Outputs declared in dvc.yaml that the command reads (tests/test_paths.py checks they are).
log = logging.getLogger(__name__)


def require(path, what):
    if not Path(path).exists():
        raise Action2VecError(f"{path}: {what} not found; run `dvc repro` in the project first "
                              "(or point --project at one that has run)")
    return Path(path)


class Trained:
    """The trained pipeline of a project: model, PCA, extraction settings, classes, vectors."""

    def __init__(self, project=".", model=None, device="cpu", progress=False):
        """``progress``: show progress bars on long work (embedding a whole dataset's videos,
        extracting features of new ones)."""
        self.project = Path(project)
        self.progress = progress
        self.model_path = require(Path(model) if model else self.project / MODEL, "model")
        self.device = device
        from action2vec.model import load_model  # torch: imported when a model is loaded

        self.model, self.checkpoint = load_model(self.model_path, device)  # plain data only
        self.projection = Projection.load(require(self.project / PCA_MODEL, "PCA model"))
        self.features = read_attrs(shard_paths(require(self.project / PCA_SHARDS,
                                                       "PCA feature shards"))[0])
        self.labels = read_classes(require(self.project / CLASSES, "class word vectors"))
        self.params = params.read(require(self.project / PARAMS, "params file"))
        self.check_shapes()
        self.check_trained_classes()

    @property
    def spec(self):
        """The label space the class vectors came from (params labels.vectors)."""
        return self.labels.spec

    @property
    def class_vectors(self):
        """{class name: label vector} of the project's classes."""
        return self.labels.vectors

    @property
    def label_dim(self):
        return self.labels.dim

    def check_shapes(self):
        config = self.checkpoint["config"]
        if self.projection.dims != config["input_dim"]:
            raise Action2VecError(f"{self.model_path} takes {config['input_dim']}-d inputs but "
                                  f"{self.project / PCA_MODEL} gives {self.projection.dims}-d: "
                                  "the model is not from this project's pipeline")
        if self.label_dim != config["embed_dim"]:
            raise Action2VecError(f"{self.model_path} embeds in {config['embed_dim']}-d but the "
                                  f"class word vectors ({self.spec}) are {self.label_dim}-d")

    def check_trained_classes(self):
        """Every class the model was trained towards must be a class of classes.json: a
        classes file of another project is refused before any work."""
        split = self.checkpoint.get("split")
        seen = split.get("seen") if isinstance(split, dict) else None
        if not isinstance(seen, list):
            return
        missing = [c for c in seen if c not in self.class_vectors]
        if missing:
            raise Action2VecError(
                f"{self.project / CLASSES}: lacks {len(missing)} of the {len(seen)} classes "
                f"{self.model_path} was trained on ({listed(missing, 3)}): the model and the "
                "classes are not of one run of the pipeline; run `dvc repro`")

    @property
    def dim(self):
        return self.checkpoint["config"]["embed_dim"]

    @functools.cached_property
    def space(self):
        """The label space the model was trained against (vectors.py), loaded once."""
        spec = self.spec
        if spec not in {**PACKAGED_VECTORS, **SENTENCE_MODELS} and not Path(spec).is_absolute():
            spec = str(self.project / spec)
        log.info("loading the label vectors %s", self.spec)
        return load_space(spec, self.device)

    @functools.cached_property
    def name_map(self):
        path = self.params["labels"]["name_map"]
        return read_name_map(self.project / path if path else None,
                             dataset=name_map_rows(self.params["dataset"]["name"]))

    # ------------------------------------------------------------ the project's own videos

    @functools.cached_property
    def videos(self):
        """(video ids, labels, embeddings) of every video of the project, by this model: the
        train stage's saved embeddings when they cover them all, else computed from the
        sequences."""
        path = require(self.project / SEQUENCES, "sequences")
        index = read_index(path)
        ids, labels = index.video_id, index.label
        unknown = sorted(set(labels) - set(self.class_vectors))
        if unknown:
            raise Action2VecError(
                f"{self.project / CLASSES}: lacks {len(unknown)} classes of the videos in "
                f"{path} ({listed(unknown, 3)}): they are not of one run of the pipeline; run "
                "`dvc repro`")
        saved = saved_embeddings(self.model_path.with_suffix(".npz"), self.model_path, self.dim)
        if saved is not None and saved[0] == ids:
            return ids, labels, saved[1]
        return ids, labels, self.embed_sequences_file(path, len(ids))

    def embed_sequences_file(self, path, count, chunk=1024):
        """Embeddings of the ``count`` videos of a sequence file, read ``chunk`` at a time."""
        from action2vec.training import embed

        total = -(-count // chunk)
        return np.concatenate([embed(self.model, x, n, device=self.device) for x, n in
                               progress_bar(iter_batches(path, chunk), total=total,
                                            desc="embed videos", unit="chunk",
                                            disable=not self.progress)])

    @functools.cached_property
    def classes(self):
        """(class names, (n, dim)): the mean embedding of each class's videos, for the classes
        with videos."""
        _, labels, embeddings = self.videos
        present = set(labels)
        names = [c for c in self.class_vectors if c in present]
        return names, class_means(embeddings, labels, names)

    def extractor(self):
        """The feature extractor the project's features came from, with the same weights."""
        from action2vec.extractors import make_extractor

        settings = self.features["params"]
        weights = settings["features"]["weights"]
        if weights and not Path(weights).is_absolute():
            weights = self.project / weights
        if weights:
            require(weights, "weights file the features were extracted with")
        extractor = make_extractor(self.features["extractor"], self.features["layer"], weights,
                                   settings["seed"], self.device)
        if extractor.weights_info.get("weights_sha256") != self.features.get("weights_sha256"):
            raise Action2VecError(f"{weights or 'packaged weights'}: not the weights the "
                                  f"project's features were extracted with (sha256 differs)")
        return extractor

    @functools.cached_property
    def vocabulary(self):
        """The project's classes and the words of its label space as label vectors."""
        return Vocabulary(self.space, self.name_map, self.labels, self.project)


class Vocabulary:
    """Class names and words as vectors of a label space (vectors.py), embedded as the labels
    stage embeds class names: through the name map, as phrases, or, for a project that embedded
    descriptions, as their descriptions. The ``classes`` of a project (classes.json; None for
    none) keep the vectors it stored; ``root`` is the project's folder, which its descriptions
    file is relative to. A word the space has no vector for is an error that suggests close
    spellings."""

    def __init__(self, space, name_map, classes=None, root="."):
        self.space, self.name_map, self.classes, self.root = space, name_map, classes, Path(root)

    @property
    def spec(self):
        return self.classes.spec if self.classes else self.space.spec

    @property
    def class_vectors(self):
        """{class name: label vector} of the project's classes ({} without a project)."""
        return self.classes.vectors if self.classes else {}

    def keys(self, words, text):
        """The label space's keys of the words of ``text`` (for word vectors, their vocabulary
        spelling); a word the space has no vector for is an error that names it and suggests
        close ones."""
        keys = [self.space.key(w) for w in words]
        if not words or None in keys:
            raise Action2VecError(self.unknown(text, words[keys.index(None)] if words else text))
        return keys

    def words_vector(self, words, text):
        """(keys, phrase vector) of the words of ``text`` (see ``keys``)."""
        keys = self.keys(words, text)
        return keys, self.space.phrase(keys)

    def unknown(self, text, word):
        """The message for a word the label space has no vector for (only word vectors have a
        vocabulary); with a project, ``text`` is not one of its classes either."""
        close = suggest(word, self.space.words)
        classes = difflib.get_close_matches(text.lower(), list(self.class_vectors), 3, 0.6)
        hints = ([f"close words: {', '.join(close)}"] if close else []) + \
                ([f"close classes: {', '.join(classes)}"] if classes else [])
        not_class = f" and {text!r} is not a class name" if self.class_vectors else ""
        return (f"{word!r} is not in the word vectors ({self.spec}, "
                f"{len(self.space.words)} words){not_class}"
                + (f"; {'; '.join(hints)}" if hints else ""))

    def label_vectors(self, names, source="--classes"):
        """(n, dim) float32: label vectors of class names that need not be the project's
        classes (for zero-shot on other labels). The project's own classes keep the vectors the
        model was trained against (classes.json); others are embedded as the project's classes
        were: through the name map as phrases, or, when the project embedded descriptions, as
        their descriptions in its descriptions file (a name without one is refused). Names that
        share a label text would tie, and are refused; ``source`` (the option or file the names
        came from) starts the errors."""
        descriptions = self.classes.descriptions if self.classes else None
        others = [n for n in dict.fromkeys(names) if n not in self.class_vectors]
        if descriptions:
            inputs = self.descriptions_of(others, source)  # name -> its description
            texts, embed = dict(inputs), self.space.texts
        else:
            inputs = {n: self.keys(class_name(n, self.name_map).words, n) for n in others}
            texts = {n: " ".join(keys) for n, keys in inputs.items()}
            embed = self.space.phrases
        texts.update(self.classes.texts if self.classes else {})  # what their vectors embed
        check_distinct(names, [texts[n] for n in names], source, "list each class once",
                       self.space.ignores_word_order)
        embedded = dict(zip(others, embed([inputs[n] for n in others]))) if others else {}
        return np.asarray([self.class_vectors[n] if n in self.class_vectors else embedded[n]
                           for n in names], dtype=np.float32).reshape(len(names), self.space.dim)

    def descriptions_of(self, names, source):
        """{name: description} of class names that are not the project's, from the descriptions
        file the project's class vectors embed; a name it does not describe is an error."""
        record = self.classes.descriptions["file"]
        path = Path(record) if Path(record).is_absolute() else self.root / record
        rows = description_rows(path) if names else {}
        missing = [n for n in names if n.strip().lower() not in rows]
        if missing:
            raise Action2VecError(
                f"{source}: {listed(missing)}: not {'a class' if len(missing) == 1 else 'classes'}"
                f" of the project, whose label vectors embed class descriptions ({record}), not "
                "names: a new class needs a description there (a row name,description), or give "
                "only the project's classes")
        return {n: rows[n.strip().lower()][1] for n in names}

    def nearest_words(self, vector, k, exclude=(), vocab=None):
        """The ``k`` words most cosine-similar to a vector among the ``vocab`` most frequent of
        the label space's vocabulary (None: all), without ``exclude``: [(word, cosine)]. Rare
        words have noisy vectors; limiting the search to frequent ones, as gensim's
        ``restrict_vocab`` does, gives readable neighbours."""
        skip = {w.lower() for w in exclude}
        keys, matrix = self.space.vocabulary(vocab)
        return top_k(vector, keys, matrix, k, exclude={w for w in keys if w.lower() in skip})


def saved_embeddings(path, model_path, dim):
    """(video ids, (n, dim) embeddings) that the train stage saved beside a model
    (``split-k.npz``), or None when there is no such file. A file there that is not one (not
    an .npz archive, pickled or object data, missing arrays, wrong shapes, values that are not
    finite) is an error naming it: nothing in it is run."""
    if not os.path.lexists(path):
        return None

    def bad(problem):
        return Action2VecError(f"{path}: not the video embeddings the train stage saves beside "
                               f"{model_path} ({problem}); move it away, or run `dvc repro` "
                               "to write it again")

    problem = file_problem(path)
    if problem:
        raise bad(problem)
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise bad("a single array, not an .npz archive")
        with data:
            missing = [k for k in ("video_id", "embedding") if k not in data.files]
            if missing:
                raise bad(f"no {' or '.join(missing)} array")
            ids, embeddings = data["video_id"], data["embedding"]
    except ValueError as exc:
        raise bad(PICKLE_REFUSED if "pickle" in str(exc) else str(exc)) from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise bad(f"{type(exc).__name__}: {exc}") from None
    if ids.ndim != 1 or ids.dtype.kind != "U":
        raise bad(f"video_id is a {ids.ndim}-d {ids.dtype} array, not a 1-d array of strings")
    if embeddings.shape != (len(ids), dim) or embeddings.dtype.kind != "f":
        raise bad(f"embedding is a {embeddings.shape} {embeddings.dtype} array, not "
                  f"({len(ids)}, {dim}) floats")
    if not np.isfinite(embeddings).all():
        raise bad("embedding has values that are not finite")
    return ids.tolist(), embeddings


def suggest(word, vocabulary, n=5, head=200_000):
    """Close spellings of a word among the ``head`` most frequent words of a vocabulary (word
    vector files list words by frequency): same first letter, length within 2."""
    word = word.lower()
    pool = [w for w in vocabulary[:head] if w[:1] == word[:1] and abs(len(w) - len(word)) <= 2]
    return difflib.get_close_matches(word, pool, n, 0.75)
