"""The ``action2vec conse`` command's parts around the ConSE arithmetic (conse.py): its settings
(./params.yaml's when there is one), the I3D Mixed_5c features of new video files, the
candidate classes' label vectors, and the tables it prints for a video."""

from pathlib import Path

from action2vec import params
from action2vec.conse import TOP, top_classes
from action2vec.scoring import top_k

# What the command takes when there is no ./params.yaml: the values of the project's
# params.yaml (params.py validates values but holds no defaults, so they are listed here once).
DEFAULTS = {"fps": 30, "max_seconds": 14, "workers": 2, "stride": 8, "batch_size": 8,
            "vectors": "glove-6b-50d", "name_map": None, "dataset": None, "top": TOP}


def settings(path="params.yaml"):
    """What the command takes from a project's params file when ``path`` exists (decode, the
    extraction's stride and batch, the label space and name map, conse.top when it has one; a
    file there that is not a valid params file is an error naming it), else DEFAULTS."""
    if not Path(path).exists():
        return dict(DEFAULTS)
    p = params.read(path)
    return {"fps": p["decode"]["fps"], "max_seconds": p["decode"]["max_seconds"],
            "workers": p["decode"]["workers"], "stride": p["features"]["stride"],
            "batch_size": p["features"]["batch_size"], "vectors": p["labels"]["vectors"],
            "name_map": p["labels"]["name_map"], "dataset": p["dataset"]["name"],
            "top": p.get("conse", {}).get("top", TOP)}


def video_features(paths, on_error, settings, device="cpu", progress=False):
    """I3D Mixed_5c clip features (n_clips, 1024) of video files, a list aligned with ``paths``
    (None where a video fails, after ``on_error(path, one-line message)``), through the same
    decode check and extraction as Action2Vec.encode_videos."""
    from action2vec.embedding import video_features as features_of
    from action2vec.extractors import make_extractor

    features, _ = features_of(paths, lambda: make_extractor("i3d", "mixed_5c", device=device),
                              settings, on_error, progress=progress)
    return features


def candidate_vectors(names, space, settings, source="--classes"):
    """(n, d) label vectors of candidate class names, embedded as a project embeds its class
    names (the label encoding of Action2Vec.encode_labels, with no project classes): through
    the name map of ``settings`` (labels.name_map, read for its dataset's rows), as phrases. A
    word the space has no vector for, or names sharing one label text (they would tie), is an
    error."""
    from action2vec.dataset import name_map_rows
    from action2vec.labels import read_name_map
    from action2vec.trained import Vocabulary

    dataset = name_map_rows(settings["dataset"]) if settings["dataset"] else None
    name_map = read_name_map(settings["name_map"], dataset=dataset)
    return Vocabulary(space, name_map).label_vectors(names, source)


def video_tables(probabilities, embedding, names, class_vectors, kinetics, k, top):
    """Rows and headers of what the command prints for a video: its ``k`` nearest candidate
    classes with their cosines, and its ``top`` Kinetics classes with their probabilities."""
    nearest = [[i + 1, n, c] for i, (n, c) in
               enumerate(top_k(embedding, names, class_vectors, k))]
    pretrained = [[i + 1, kinetics[j], float(probabilities[j])]
                  for i, j in enumerate(top_classes(probabilities, top))]
    return [(nearest, ["#", "class", "cosine"]),
            (pretrained, ["#", f"top {top} Kinetics-400 class", "p"])]
