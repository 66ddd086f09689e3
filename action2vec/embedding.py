"""Action2Vec, the learned joint video-verb embedding of a trained project as one object: videos
and labels (class names, words) become unit vectors of one space, labels are ranked for videos
by cosine (zero-shot recognition, section 4.1), and the paper's vector arithmetic (section
4.2.2) runs on class embeddings and words.

    from action2vec import Action2Vec

    a2v = Action2Vec.load(".")                     # a project, or a model checkpoint in one
    vectors, results = a2v.encode_videos(["clip.mp4"])         # (N, d) unit rows
    labels = a2v.encode_labels(["throw ball", "kick ball"])    # (n, d) unit rows
    print(vectors @ labels.T)                                  # cosines
    print(a2v.rank(vectors, ["throw ball", "kick ball"], k=1)) # [[(label, cosine)]]
    print(a2v.analogy("throw ball", "ball", "ring"))           # [(class, distance, cosine)]

A new video goes through the steps that trained the model: the decode stage's check, features
from the project's extractor and weights, its PCA, padding to the model's steps, the HRNN.
"""

import os
import re
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from action2vec import Action2VecError
from action2vec.labels import class_name, split_name
from action2vec.paths import PARAMS
from action2vec.scoring import cosines, normalise, top_k
from action2vec.semantics import arithmetic
from action2vec.trained import Trained


class Encoded(NamedTuple):
    """What became of one video given to ``encode_videos``."""

    path: str
    ok: bool
    clips: int  # the clips it gave (0 if it failed)
    error: Optional[str]  # why it failed, one line (None if ok)


class Term(NamedTuple):
    """A class name or words, resolved to a vector of the joint space."""

    text: str
    kind: str  # "class" or "words"
    vector: np.ndarray
    words: list  # the words it stands for (excluded from its own nearest words)


class Arithmetic(NamedTuple):
    """Vector arithmetic on terms: the terms resolved, their signed sum, and the nearest
    classes by Euclidean distance (Table 4's rule) with their cosines."""

    terms: list  # [(sign, Term)]
    vector: np.ndarray
    classes: list  # [(class, distance, cosine)], nearest first


def project_of(model):
    """The project a model checkpoint lies in: the nearest folder above it with a params file
    (the train stage writes data/train/VARIANT/RATIO/split-K.pt)."""
    model = Path(model).resolve()
    for folder in model.parents:
        if (folder / PARAMS).is_file():
            return folder
    raise Action2VecError(f"{model}: a model checkpoint, but no folder above it holds a "
                          f"project's {PARAMS}; load the project's folder, or keep the "
                          "checkpoint inside its project")


def video_features(paths, make_extractor, settings, on_error=None, transform=None,
                   progress=False):
    """(features, errors), two lists aligned with ``paths``: each video's clip features, or
    None and why it failed (one line; ``on_error(path, message)`` is also called as it fails).
    Each video first gets the decode stage's check, so a file the pipeline would reject is
    rejected with the same reason; then the clips of those that pass go through the extractor
    (``make_extractor()``, called once, only when a video passes), and each video's features
    through ``transform`` as it completes (so a long list never holds every raw feature).
    ``settings``: fps, max_seconds, workers (decode) and stride, batch_size (features)."""
    from action2vec.features import extract
    from action2vec.video import first_line, probe

    features, errors = [None] * len(paths), [None] * len(paths)

    def failed(index, message):
        errors[index] = message
        if on_error is not None:
            on_error(paths[index], message)

    videos = []
    for i, path in enumerate(paths):
        info = probe(path, settings["fps"], settings["max_seconds"])
        if info["status"] != "ok":
            failed(i, info["reason"])
        else:
            # used_frames: extraction checks the decode against the check's count
            videos.append({"path": str(path), "index": i, "used_frames": info["used_frames"]})

    def keep(video, array):
        features[video["index"]] = array if transform is None else transform(array)

    if videos:
        extract(videos, make_extractor(), settings["fps"], settings["max_seconds"],
                settings["stride"], settings["batch_size"], on_video=keep,
                on_error=lambda video, message: failed(video["index"], first_line(message)),
                progress=progress, workers=settings["workers"])
    errors = [e if e or f is not None else "no features extracted" for f, e in
              zip(features, errors)]
    return features, errors


def is_path(value):
    return isinstance(value, (str, os.PathLike))


class Action2Vec:
    """A trained project's joint embedding of videos and labels (``load`` one)."""

    def __init__(self, trained):
        """``trained``: the project's loaded outputs (trained.Trained)."""
        self.trained = trained

    @classmethod
    def load(cls, project_or_model=".", device="cpu", progress=False):
        """A project's folder (its DVC outputs; the model trained on every class) or a model
        checkpoint of the train stage inside a project, e.g. a seen-classes-only one for honest
        zero-shot: ``data/train/action2vec/80_20/split-0.pt``. ``device``: cpu or cuda;
        ``progress``: progress bars on long work."""
        path = Path(project_or_model)
        if path.is_file():
            return cls(Trained(project_of(path), path, device, progress))
        return cls(Trained(path, device=device, progress=progress))

    @property
    def dim(self):
        """The dimension d of the joint space (the label space's)."""
        return self.trained.dim

    @property
    def class_names(self):
        """The project's classes that have videos: the rows of ``class_embeddings``."""
        return self.trained.classes[0]

    @property
    def class_embeddings(self):
        """(n, d): the mean embedding of each class's videos (the paper's class vectors of
        section 4.2), not normalised."""
        return self.trained.classes[1]

    # ------------------------------------------------------------ videos

    def encode_videos(self, paths, batch_size=None, normalised=True, on_error=None):
        """(vectors, results): ``vectors`` (N, d) float32, one row per path, of unit length
        (``normalised=False``: the model's embeddings as the train stage saves them), a row of
        NaN where a video failed; ``results`` one Encoded per path: whether it worked, its
        clips, and if not, why. ``batch_size``: clips per forward pass (default: the project's
        features.batch_size). ``on_error(path, message)`` is called as each video fails."""
        from action2vec.sequences import pad_or_clip
        from action2vec.training import embed

        trained = self.trained
        paths = [paths] if is_path(paths) else list(paths)
        p = trained.features["params"]
        settings = {"fps": p["decode"]["fps"], "max_seconds": p["decode"]["max_seconds"],
                    "workers": p["decode"]["workers"],
                    "stride": p["features"]["stride"],
                    "batch_size": batch_size or p["features"]["batch_size"]}
        features, errors = video_features(paths, trained.extractor, settings, on_error,
                                          trained.projection.transform, trained.progress)
        vectors = np.full((len(paths), self.dim), np.nan, np.float32)
        done = [i for i, f in enumerate(features) if f is not None]
        if done:
            padded = [pad_or_clip(features[i], trained.checkpoint["steps"]) for i in done]
            vectors[done] = embed(trained.model, np.stack([x for x, _ in padded]),
                                  np.array([n for _, n in padded]), device=trained.device)
        results = [Encoded(str(path), f is not None, 0 if f is None else len(f), error)
                   for path, f, error in zip(paths, features, errors)]
        return (normalise(vectors) if normalised else vectors), results

    def video_vectors(self, videos):
        """(N, d) of ``videos``: vectors ((N, d) or one (d,)) as given, or video files (a path
        or a list of paths) encoded."""
        if is_path(videos) or (isinstance(videos, (list, tuple)) and videos
                               and all(is_path(v) for v in videos)):
            return self.encode_videos(videos)[0]
        vectors = np.asarray(videos, dtype=np.float64)
        vectors = vectors[None] if vectors.ndim == 1 else vectors
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise Action2VecError(f"videos: vectors of shape {np.shape(videos)}, not (N, "
                                  f"{self.dim}) or ({self.dim},), nor video files")
        return vectors

    # ------------------------------------------------------------ labels

    def encode_labels(self, labels, source="labels"):
        """(n, d) float32 unit vectors of class names or other texts, in the space of
        ``encode_videos``: a class of the project gives the label vector it was trained
        against (classes.json), other text is embedded as the project embedded its classes
        (through its name map, as a phrase of the label space; or, where it embedded
        descriptions, by a row of its descriptions file). A word with no vector, texts that
        would share one vector, or a text a descriptions project does not describe is an
        Action2VecError that ``source`` starts."""
        labels = [labels] if isinstance(labels, str) else list(labels)
        return normalise(self.trained.vocabulary.label_vectors(labels, source))

    def rank(self, videos, labels, k=5):
        """The ``k`` labels most cosine-similar to each video, best first: one list of
        [(label, cosine)] per video (zero-shot recognition). ``videos``: vectors ((N, d) or one
        (d,)) or video files (a path or a list of paths, encoded); a video that failed (a row
        of NaN) gets an empty list, and ``encode_videos`` says why. ``labels``: class names or
        texts (see ``encode_labels``)."""
        labels = [labels] if isinstance(labels, str) else list(labels)
        matrix = self.encode_labels(labels)
        return [[] if np.isnan(vector).any() else top_k(vector, labels, matrix, k)
                for vector in self.video_vectors(videos)]

    def find_class(self, text):
        """The class a text names, however it is spelled ("ThrowBall", "throw_ball"), or None."""
        key = " ".join(split_name(text))
        return next((c for c in self.trained.class_vectors if " ".join(split_name(c)) == key),
                    None)

    def term(self, text):
        """A class name (its class embedding: the mean embedding of its videos) or words
        (embedded as a phrase of the label space)."""
        name = self.find_class(text)
        if name is not None:
            names, matrix = self.trained.classes
            if name in names:
                return Term(name, "class", matrix[names.index(name)],
                            class_name(name, self.trained.name_map).words)
        words = [w for w in re.split(r"[\s_]+", text.strip()) if w]
        if not words:
            raise Action2VecError("empty term: give a class name or words")
        keys, vector = self.trained.vocabulary.words_vector(words, text)
        return Term(text, "words", vector, keys)

    # ------------------------------------------------------------ vector arithmetic

    def arithmetic(self, terms, k=5):
        """The vector arithmetic of section 4.2.2 on any terms [(sign, class name or words)]:
        their signed sum and its ``k`` nearest classes by Euclidean distance (Table 4's rule)
        among the class embeddings, each with its cosine."""
        resolved = [(sign, self.term(text)) for sign, text in terms]
        names, matrix = self.trained.classes
        vector, order, distance = arithmetic([(s, t.vector) for s, t in resolved], matrix)
        cosine = cosines(np.asarray(vector)[None], matrix)[0]
        return Arithmetic(resolved, vector, [(names[i], float(distance[i]), float(cosine[i]))
                                             for i in order[:k]])

    def analogy(self, a, b, c, k=5):
        """``a - b + c`` (the paper's "verb noun1 - noun1 + noun2", e.g. "throw ball" - ball +
        ring): the ``k`` classes nearest to it by Euclidean distance, [(class, distance,
        cosine)], nearest first. Each term is a class name (its class embedding) or words."""
        return self.arithmetic([(1, a), (-1, b), (1, c)], k).classes
