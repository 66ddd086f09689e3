"""params.yaml: the one source of every setting, validated before any stage does work.

``dvc exp run -S key=value`` silently adds a misspelt key, so every key is checked against
``SCHEMA``; an unknown key or an impossible value is an error naming the key.
"""

import math
from pathlib import Path

import yaml

from action2vec import Action2VecError
from action2vec.backbones import LAYERS
from action2vec.dataset_names import RENDERED, name_problem
from action2vec.files import read_text
from action2vec.paths import DESCRIPTIONS, DVC_YAML, PARAMS, VIDEOS
from action2vec.protocol import RATIOS, VARIANTS


class ParamsError(Action2VecError):
    """params.yaml has an unknown key or a bad value."""


def integer(lo=None, hi=None):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int):
            return "must be an integer"
        return bounds(v, lo, hi)
    return check


def number(lo=None, hi=None):
    """A finite int or float: NaN passes every comparison, so bounds alone would let it in
    (``-S lambda=nan`` writes YAML's ``.nan``)."""
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return "must be a number"
        if not math.isfinite(v):
            return "must be a finite number"
        return bounds(v, lo, hi)
    return check


def bounds(v, lo, hi):
    if lo is not None and v < lo:
        return f"must be >= {lo}"
    if hi is not None and v > hi:
        return f"must be <= {hi}"
    return None


def choice(*options):
    def check(v):
        return None if v in options else f"must be one of {list(options)}"
    return check


def boolean(v):
    return None if isinstance(v, bool) else "must be true or false"


def text(v):
    return None if isinstance(v, str) and v else "must be a non-empty string"


def file_in_root(v):
    """A file inside dataset.root, named relative to it: DVC's dependency on the root then
    covers it."""
    if not isinstance(v, str) or not v:
        return "must be a non-empty string"
    if Path(v).is_absolute() or ".." in Path(v).parts:
        return ("must name a file inside dataset.root, relative to it (no absolute path, no "
                "'..'), so that the decode stage's dependency on dataset.root covers it")
    return None


def file_in(folder):
    """A file inside a folder of the project, named relative to the project root: a stage's
    dependency on the folder then covers it, so that editing the file reruns the stage."""
    def check(v):
        if not isinstance(v, str) or not v:
            return "must be a non-empty string"
        path = Path(v)
        if path.is_absolute() or ".." in path.parts or folder not in path.parents:
            return (f"must name a file inside the project's {folder}/ folder (e.g. "
                    f"{folder}/mine.csv): dvc.yaml depends on that folder, so that editing "
                    "the file reruns what uses it")
        return None
    return check


def string_list(v):
    """A list, maybe empty, of distinct non-empty strings."""
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        return "must be a list of non-empty strings"
    return "has duplicates" if len(set(v)) != len(v) else None


def optional(inner):
    """A value that may also be null (or an empty string) to mean 'none'."""
    def check(v):
        return None if v in (None, "") else inner(v)
    return check


def unique_list(*options):
    """A non-empty list of distinct values, each one of ``options``."""
    def check(v):
        if not isinstance(v, list) or not v:
            return f"must be a non-empty list of {list(options)}"
        bad = [x for x in v if x not in options]
        if bad:
            return f"unknown {bad}; choose from {list(options)}"
        return "has duplicates" if len(set(v)) != len(v) else None
    return check


# Upper bounds keep every accepted value one the pipeline can run (a seed numpy and scikit-learn
# take, sizes that do not overflow); the memory the sizes need together is checked against the
# machine's by the check stage (limits.memory_problems).
MAX_SEED = 2**32 - 1
BIG = 2**16  # network sizes, batch sizes, workers, steps

SCHEMA = {
    "seed": integer(0, MAX_SEED),
    "lambda": number(0, 100),
    "dataset": {"name": name_problem, "root": text, "list": file_in_root},
    "render": {"videos_per_class": integer(1, 10**5), "frames": integer(1, 10**5),
               "width": integer(16, 4096), "height": integer(16, 4096)},
    "decode": {"fps": number(1, 240), "max_seconds": number(0.1, 3600),
               "workers": integer(1, 256)},
    "labels": {"vectors": text, "name_map": optional(text),
               "descriptions": optional(file_in(DESCRIPTIONS))},
    "features": {"backbone": choice(*LAYERS), "layer": text, "weights": optional(text),
                 "stride": integer(1, BIG), "batch_size": integer(1, BIG),
                 "shard_videos": integer(1, 10**6), "device": choice("cpu", "cuda")},
    "pca": {"dims": integer(1), "max_fit_samples": integer(1, 10**9),
            "fit_on": choice("seen", "all"), "scale": boolean},
    "sequence": {"steps": integer(1, BIG), "dtype": choice("float32", "float16")},
    "zsl": {"ratios": unique_list(*RATIOS), "n_splits": integer(1, 1000),
            "variants": unique_list(*VARIANTS), "validation": number(0, 0.9),
            "held_out": number(0, 0.9),
            # fewer resamples give no 95% interval worth printing
            "bootstrap": integer(100, 10**6)},
    "leakage": {"threshold": number(-1, 1), "exclude": boolean},
    "train": {"chunk": integer(1, BIG), "lstm1": integer(1, BIG),
              "lstm2": integer(1, BIG), "attention": integer(0, BIG), "dropout": number(0, 0.99),
              "epochs": integer(1, 10**5), "patience": optional(integer(1, 10**5)),
              "batch_size": integer(2, BIG), "lr": number(0, 10),
              "lambda_warmup": number(0), "lambda_schedule": choice("ramp", "step"),
              "loss_reduction": choice("mean", "sum"),
              "device": choice("cpu", "cuda"), "workers": optional(integer(1, 1024)),
              "store": choice("disk", "memory")},
    "baseline": {"alpha": number(0), "gamma": optional(number(0)), "laplacian": number(0),
                 "neighbours": integer(1, 1000), "landmarks": integer(1, 100_000)},
    "conse": {"top": integer(1, 400)},
    "semantics": {"simulate_root": boolean, "compare_vectors": string_list},
}


def check_tree(values, schema, prefix=""):
    """Errors for unknown, missing and bad keys of ``values`` against ``schema``."""
    errors = []
    if not isinstance(values, dict):
        return [f"{prefix.rstrip('.') or 'params.yaml'}: must be a mapping of keys"]
    for key in values:
        if key not in schema:
            errors.append(f"{prefix}{key}: unknown key (known here: {', '.join(schema)})")
    for key, rule in schema.items():
        if key not in values:
            errors.append(f"{prefix}{key}: missing")
        elif isinstance(rule, dict):
            errors.extend(check_tree(values[key], rule, f"{prefix}{key}."))
        else:
            problem = rule(values[key])
            if problem:
                errors.append(f"{prefix}{key}: {problem} (got {values[key]!r})")
    return errors


def check_relations(p):
    """Checks that involve more than one key."""
    errors = []
    root = Path(p["dataset"]["root"]).resolve()
    if p["dataset"]["name"] != RENDERED and root.is_relative_to(VIDEOS.resolve()):
        errors.append(f"dataset.root: {p['dataset']['root']} is the render stage's output, "
                      f"emptied when dataset.name is not {RENDERED}; keep your videos "
                      "elsewhere")
    if p["render"]["width"] % 2 or p["render"]["height"] % 2:
        errors.append("render.width/height: must be even (H.264 needs even frame sizes)")
    backbone, layer = p["features"]["backbone"], p["features"]["layer"]
    layers = LAYERS[backbone]
    if layer not in layers:
        errors.append(f"features.layer: {backbone} has no layer {layer!r} "
                      f"(choose from {sorted(layers)})")
    elif p["pca"]["dims"] > layers[layer]:
        errors.append(f"pca.dims: {p['pca']['dims']} is more than the {layer} feature "
                      f"dimension {layers[layer]}")
    if p["train"]["chunk"] > p["sequence"]["steps"]:
        errors.append(f"train.chunk: {p['train']['chunk']} is longer than the sequence "
                      f"(sequence.steps = {p['sequence']['steps']})")
    if p["pca"]["max_fit_samples"] < p["pca"]["dims"]:
        errors.append("pca.max_fit_samples: must be at least pca.dims")
    return errors


def file_problems(p):
    """Files that params name and that are not there: found now, before any stage has removed
    its outputs to run again (the label files: labels.label_file_problems)."""
    errors = []
    root = Path(p["dataset"]["root"])
    if p["dataset"]["name"] != RENDERED:
        if not root.is_dir():
            errors.append(f"dataset.root: {root} is not a folder")
        elif p["dataset"]["name"] == "list" and not (root / p["dataset"]["list"]).is_file():
            errors.append(f"dataset.list: {root / p['dataset']['list']} is not a file")
    weights = p["features"]["weights"]
    if weights and not Path(weights).is_file():
        errors.append(f"features.weights: {weights} is not a file")
    return errors


def validate(params):
    """Raise ParamsError listing every problem of a whole params tree."""
    errors = check_tree(params, SCHEMA)
    if not errors:
        errors = check_relations(params)
    if errors:
        raise ParamsError("params.yaml is invalid:\n  " + "\n  ".join(errors))
    return params


def read(path=PARAMS):
    """The validated params tree from a YAML file."""
    return validate(read_yaml(path, "params"))


def read_yaml(path, what):
    """A YAML file as a mapping; a missing or unparsable file is a ParamsError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: no such file (run from the project root)")
    try:
        values = yaml.safe_load(read_text(path, str(path)))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}")
    if values is None and what == "params":
        return {}
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: must be a mapping of keys")
    return values


def declared(stage, dvc_yaml=DVC_YAML):
    """The params keys dvc.yaml declares for ``stage`` ("seed", "train", "dataset.name")."""
    stages = read_yaml(dvc_yaml, "pipeline").get("stages") or {}
    if stage not in stages:
        raise ParamsError(f"{dvc_yaml}: no stage {stage!r} (stages: {', '.join(stages)})")
    keys = []
    for entry in stages[stage].get("params") or []:
        if isinstance(entry, dict):  # {params file: [keys]}
            for file, names in entry.items():
                if Path(file) != PARAMS:
                    raise ParamsError(f"{dvc_yaml}: stage {stage} reads params from {file}; "
                                      f"every param lives in {PARAMS}")
                keys.extend(names)
        else:
            keys.append(entry)
    return keys


class Declared(dict):
    """Params a stage declared in dvc.yaml. Reading any other key is an error: DVC would not
    rerun the stage when that key changes."""

    def __init__(self, values, stage, prefix=""):
        super().__init__(values)
        self.stage, self.prefix = stage, prefix

    def __missing__(self, key):
        raise ParamsError(f"stage {self.stage} reads param {self.prefix}{key}, which dvc.yaml "
                          f"does not declare for it; add it to the stage's params in dvc.yaml")

    def get(self, key, default=None):
        return self[key]


def view(params, keys, stage):
    """The part of ``params`` named by ``keys`` (dotted), as nested Declared mappings."""
    out = Declared({}, stage)
    # Deeper keys first: a section declared whole ("dataset") then replaces its declared parts
    # ("dataset.name") whatever the order in dvc.yaml.
    for key in sorted(keys, key=lambda k: -k.count(".")):
        *sections, last = key.split(".")
        node, source, prefix = out, params, ""
        for section in sections:
            if not isinstance(source.get(section), dict):
                raise ParamsError(f"{DVC_YAML}: stage {stage} declares param {key}, which "
                                  f"{PARAMS} does not have")
            prefix += section + "."
            node = dict.setdefault(node, section, Declared({}, stage, prefix))
            source = source[section]
        if last not in source:
            raise ParamsError(f"{DVC_YAML}: stage {stage} declares param {key}, which {PARAMS} "
                              "does not have")
        dict.__setitem__(node, last, source[last])
    return out


def load(stage, path=PARAMS, dvc_yaml=DVC_YAML):
    """A stage's params: the whole file is validated, then the stage gets exactly the keys
    dvc.yaml declares for it (nothing is added), so that DVC reruns it whenever one changes."""
    return view(read(path), declared(stage, dvc_yaml), stage)
