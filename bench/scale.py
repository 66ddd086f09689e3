"""`make bench`, second part: how each stage's wall time and peak memory grow with the number of
videos, on synthetic feature shards (no video), and what that predicts for UCF101 and
Kinetics-400 on this machine. Prints two tables and writes bench/scale.json.

For each size (``--sizes``, default 4000 and 10000 videos: both past ``baseline.landmarks``
training videos, see "baseline" below; see "Time" below for 50000) a
temporary project is built (under ``--workdir``; deleted before the next size): real HDF5
feature shards written with
ShardWriter (the extract stage's attributes), classes.json, leakage.json, params.yaml and
dvc.yaml. The REAL stage scripts then run in it as subprocesses, one after another:
splits -> pca -> sequence -> train -> baseline -> evaluate, each command as dvc.yaml spells it.

- Features: deterministic (seeded per shard) and class-dependent: each class's clips scatter
  around a random linear image of its word vector, so that training and zero-shot are not
  degenerate. 1024 values per clip (I3D mixed_5c's width, not C3D fc7's 4096) and clips per video
  drawn from a gamma distribution of mean 12 (about 4 s at stride 8, HMDB51-like; UCF101's mean
  is about 26, Kinetics' 36), and sequences stored in float16 (``sequence.dtype``). At 50k
  videos that is 2.5 GB of raw shards, 1.2 GB of PCA-projected shards, 2.6 GB of padded
  52 x 500 sequences and the train stage's ragged scratch files (real clips only, not padded:
  0.6 GB each, one for the split and one for the full model). With the padded scratch file of
  earlier versions (2.6 GB) the peak was 8.5 GB; float32 sequences add 2.6 GB, 4096-d features
  7 GB.
- Settings (params.yaml with these changes): pca.dims 500, sequence.steps 52, one 80_20 split of
  one variant (action2vec), ONE epoch of a SMALL network (lstm1 64, lstm2 32, attention 16), so
  that one epoch at 50k videos takes minutes, not hours. The times are those of this network;
  the growth with the number of videos is what to read.
- Peak memory: each command runs under a small wrapper process that reports the largest
  ru_maxrss of its descendants (the stage and every process the stage started and waited for,
  parallel training workers included). It is the largest single process, not the sum over
  processes running at once.
- Peak disk: the temporary project's size (``du``), sampled every second while the stages run.
- baseline: Laplacian-regularised least squares on the Nystrom features of
  ``baseline.landmarks`` training videos (an m x m system built a block of videos at a time,
  memory linear in the videos), at every size. Up to that many training videos every one is a
  landmark and its m x m matrices grow with them; the output says whether the two largest sizes
  are past it (the baseline's training videos are counted from the split).
- evaluate: the evaluate stage needs the baseline's outputs, so the benchmark times the stage's
  scoring functions (action2vec/scoring.py score_split and summarise) on the train stage's real
  outputs, at every size, in a child process of its own (``--score``).

Growth exponent: the least-squares slope of log(figure) against log(videos) over the sizes
measured, and the slope between the two largest sizes alone (fixed costs, such as start-up and
imports, flatten the exponent at small sizes). Extrapolation to 13,320 (UCF101) and 240,000
(Kinetics-400) videos: the broken line through the measured points in log-log axes, continued
beyond the largest size at the slope of the last two. Peak memory is also extrapolated on the
straight line (linear axes) through the two largest sizes: a fixed part (the interpreter, its
libraries) plus a part proportional to the videos bends the log-log line down, so the linear
figure is the one to hold against a memory budget where it is the larger.

pca's memory is independent of N once past its sample cap (it fits on at most
``pca.max_fit_samples`` clips): figure at the cap. When the largest size has more clips than the
cap, a target beyond the cap gets that size's measured figure ("measured past the cap"); else
the figure extrapolated (both lines) to the videos whose clips reach the cap, at the largest
size's clips per video ("computed at the cap"; the log-log line continued is kept as
``peak_mb_uncapped``). The output and scale.json say which.

Time: on 2 CPU cores (Intel Xeon, alone), 4000 and 10000 videos took about 5 minutes and 50000
videos 10 minutes more (train 2.9 min, pca 2.6; earlier versions took 31 to 43 minutes there),
hence the default. Pass ``--sizes 4000,10000,50000`` (``make bench SCALE_ARGS=...``) for the
larger run.
"""

import argparse
import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from action2vec import Action2VecError, params  # noqa: E402
from action2vec.labels import write_classes  # noqa: E402
from action2vec.leakage_report import write_leakage  # noqa: E402
from action2vec.paths import (CLASSES, DECODED, DVC_YAML, FEATURES, LEAKAGE, PARAMS,  # noqa: E402
                              SPLITS, run_dir, split_file)
from action2vec.shards import ShardWriter  # noqa: E402
from action2vec.splits import read_splits, training_videos  # noqa: E402
from action2vec.stage import table  # noqa: E402

TARGETS = {"UCF101": 13_320, "Kinetics-400": 240_000}
STAGES = ("splits", "pca", "sequence", "train", "baseline", "evaluate")
TRAIN_STAGES = ("train", "train_all")  # dvc.yaml's training stages, those it has
MEAN_CLIPS = 12
WORD_DIM = 50
# params.yaml changes for the benchmark (the rest is the project's params.yaml)
SETTINGS = {"features": {"backbone": "i3d", "layer": "mixed_5c", "weights": None,
                         "shard_videos": 256},
            "sequence": {"steps": 52, "dtype": "float16"},
            "zsl": {"ratios": ["80_20"], "n_splits": 1, "variants": ["action2vec"]},
            "train": {"epochs": 1, "lstm1": 64, "lstm2": 32, "attention": 16, "store": "disk"}}


# ---------------------------------------------------------------- the synthetic project

def bench_params(dims):
    """The project's params.yaml with the benchmark's settings, validated."""
    p = params.read(ROOT / PARAMS)
    for section, values in SETTINGS.items():
        p[section].update(values)
    p["pca"]["dims"] = dims
    return params.validate(p)


def class_names(n_classes):
    """Synthetic class names; their words are never looked up."""
    return [f"class {c:03d}" for c in range(n_classes)]


def shard_attrs(p, raw_dim):
    """The attributes the extract stage gives its shards, for synthetic features."""
    extract = load_stage("extract")
    attrs = {"extractor": "synthetic", "layer": p["features"]["layer"], "dim": raw_dim,
             "clip_len": 16, "stride": p["features"]["stride"], "fps": p["decode"]["fps"],
             "max_seconds": p["decode"]["max_seconds"], "precision": "float32",
             "weights": "", "weights_sha256": "", "weights_layout": "synthetic",
             "params": {"decode": p["decode"], "features": p["features"], "seed": p["seed"]}}
    attrs["feature_key"] = extract.feature_key(attrs, p["seed"])
    return attrs


def write_project(project, p, n_videos, n_classes, attrs):
    """A project ready for the splits stage: params.yaml, dvc.yaml, classes.json, leakage.json,
    the decode stage's table and ``n_videos`` videos of synthetic clip features
    (``attrs["dim"]`` values) in shards with ``attrs``. Returns the number of clips."""
    raw_dim = attrs["dim"]
    (project / PARAMS).write_text(yaml.safe_dump(p, sort_keys=False))
    shutil.copy(ROOT / DVC_YAML, project / DVC_YAML)
    names = class_names(n_classes)
    words = np.random.default_rng([p["seed"], 1]).normal(size=(n_classes, WORD_DIM))
    write_classes(project / CLASSES, "synthetic", names, [n.split() for n in names],
                  words.astype(np.float32))
    write_leakage(project / LEAKAGE, "synthetic", None, "synthetic classes", 0.91, {})
    # Each class's clips scatter around a linear image of its word vector: unseen classes are
    # then predictable from their word vectors, as zero-shot assumes.
    image = np.random.default_rng([p["seed"], 2]).normal(size=(WORD_DIM, raw_dim)) / 3
    centres = (words @ image).astype(np.float32)
    per_shard, clips = p["features"]["shard_videos"], 0
    with ShardWriter(project / FEATURES, attrs, per_shard) as writer:
        for first in range(0, n_videos, per_shard):
            rng = np.random.default_rng([p["seed"], 3, first])
            count = min(per_shard, n_videos - first)
            lengths = np.clip(np.rint(rng.gamma(2.0, MEAN_CLIPS / 2, count)), 1,
                              p["sequence"]["steps"]).astype(int)
            for i, n in enumerate(lengths, first):
                label = i % n_classes
                noise = rng.standard_normal((n, raw_dim), dtype=np.float32)
                writer.add(f"v{i:07d}", names[label], centres[label] + noise)
                clips += int(n)
    (project / DECODED).parent.mkdir(parents=True, exist_ok=True)
    (project / DECODED).write_text("id,class,status\n" + "".join(
        f"v{i:07d},{names[i % n_classes]},ok\n" for i in range(n_videos)))
    return clips


# ---------------------------------------------------------------- running and measuring

def disk_usage(path):
    """Bytes that the files under ``path`` take on disk (as du counts them)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except FileNotFoundError:  # a temporary file renamed or deleted meanwhile
                pass
    return total


class DiskPeak:
    """The largest ``disk_usage`` of a folder, sampled every ``every`` seconds in a thread."""

    def __init__(self, path, every=1.0):
        self.path, self.every, self.peak = path, every, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self):
        while True:
            self.peak = max(self.peak, disk_usage(self.path))
            if self.stop.wait(self.every):
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, disk_usage(self.path))


# Runs a command and writes the peak memory (kB) of it and its descendants: RUSAGE_CHILDREN's
# ru_maxrss, which Linux takes over every descendant waited for. A process forked from this
# benchmark starts with its memory counted, hence this small one in between.
PEAK = ("import resource, subprocess, sys\n"
        "code = subprocess.call(sys.argv[2:])\n"
        "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN)"
        ".ru_maxrss))\n"
        "sys.exit(code)\n")


def measure(argv, cwd, log):
    """(seconds, peak MB) of a command run in ``cwd`` under PEAK, its output appended to
    ``log``."""
    peak = Path(log).with_suffix(".peak")
    start = time.perf_counter()
    with open(log, "a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        done = subprocess.run([sys.executable, "-c", PEAK, str(peak), *argv], cwd=cwd,
                              stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = "".join(Path(log).read_text().splitlines(keepends=True)[-15:])
        raise Action2VecError(f"{' '.join(argv)} failed in {cwd} (exit {done.returncode}):\n"
                              f"{tail}")
    return seconds, int(peak.read_text()) / 1024


def resolve(text, p, item=None):
    """dvc.yaml's ${...} in ``text``: ${item.KEY} from the matrix item, ${a.b} from params."""
    def value(match):
        keys = match.group(1).split(".")
        found = item if keys[0] == "item" else p
        for key in keys[1:] if keys[0] == "item" else keys:
            found = found[key]
        return found if isinstance(found, list) else str(found)

    whole = re.fullmatch(r"\$\{([^}]+)\}", text)
    if whole:
        return value(whole)
    return re.sub(r"\$\{([^}]+)\}", value, text)


def commands(stage, dvc, p):
    """The command lines of a dvc.yaml stage (one per item of its matrix), as argv lists that
    run this project's script with this interpreter."""
    spec = dvc["stages"][stage]
    matrix = {k: resolve(v, p) if isinstance(v, str) else v
              for k, v in (spec.get("matrix") or {}).items()}
    items = [dict(zip(matrix, combo)) for combo in itertools.product(*matrix.values())]
    argvs = []
    for item in items:
        argv = resolve(spec["cmd"], p, item).split()
        if argv[0] != "python":
            raise Action2VecError(f"dvc.yaml: stage {stage}: {spec['cmd']!r} does not run python")
        argvs.append([sys.executable, str(ROOT / argv[1]), *argv[2:]])
    return argvs


def stage_commands(dvc, p):
    """{benchmark stage: argv lists}; evaluate runs this script's ``--score``."""
    out = {name: commands(name, dvc, p) for name in ("splits", "pca", "sequence", "baseline")}
    out["train"] = [argv for name in TRAIN_STAGES if name in dvc["stages"]
                    for argv in commands(name, dvc, p)]
    out["evaluate"] = [[sys.executable, str(Path(__file__).resolve()), "--score"]]
    return out


def load_stage(name):
    """A stage script of the project as a module (its main does not run)."""
    spec = importlib.util.spec_from_file_location(f"stage_{name}", ROOT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score():
    """What the evaluate stage computes for the trained variants (not the baseline): its
    score_split and summarise on every split's saved embeddings. Run in the project."""
    from action2vec.labels import read_classes
    from action2vec.leakage_report import read_leakage
    from action2vec.scoring import chance, score_split, summarise
    from action2vec.splits import read_splits

    evaluate = load_stage("evaluate")
    p = params.read()
    cfg = p["zsl"]
    classes = read_classes(CLASSES)
    leakage = read_leakage(LEAKAGE)
    flagged = leakage.flagged if leakage.available else None
    for ratio in cfg["ratios"]:
        splits = read_splits(SPLITS, ratio)
        for variant in cfg["variants"]:
            scored = [score_split(
                evaluate.load(split_file(run_dir(variant, ratio), k, ".npz")), split,
                classes.vectors, flagged, True, evaluate.last_hits(variant, ratio, k))
                for k, split in enumerate(splits)]
            m = summarise(scored, cfg["bootstrap"], p["seed"])
            print(f"{ratio} {variant} top-1 {m['top1_mean']:.3f} (chance "
                  f"{chance(splits)['top1_mean']:.3f})")


def baseline_training_videos(project, p, n_videos, n_classes):
    """The most training videos the baseline fits on in a split of the project's splits.json."""
    names = class_names(n_classes)
    videos = [(f"v{i:07d}", names[i % n_classes]) for i in range(n_videos)]
    return max(len(training_videos(split, videos)) for ratio in p["zsl"]["ratios"]
               for split in read_splits(project / SPLITS, ratio))


def run_size(project, n_videos, args, p, dvc, attrs):
    """Build the project of ``n_videos`` videos, run every stage in it; its figures."""
    project.mkdir(parents=True)
    log = project.parent / f"stages-{n_videos}.log"
    out = {"stages": {}}
    start = time.perf_counter()
    out["clips"] = write_project(project, p, n_videos, args.classes, attrs)
    out["synthesis_seconds"] = time.perf_counter() - start
    runs = stage_commands(dvc, p)
    with DiskPeak(project) as disk:
        for stage in STAGES:
            print(f"  {n_videos} videos: {stage} ...", flush=True)
            figures = [measure(argv, project, log) for argv in runs[stage]]
            out["stages"][stage] = {"seconds": sum(s for s, _ in figures),
                                    "peak_mb": max(m for _, m in figures)}
            if stage == "splits":
                out["training_videos"] = baseline_training_videos(project, p, n_videos,
                                                                  args.classes)
    out["disk_peak_mb"] = disk.peak / 2**20
    out["score"] = log.read_text().strip().splitlines()[-1]
    return out


# ---------------------------------------------------------------- growth and extrapolation

def slope(sizes, values):
    """Least-squares slope of log(value) against log(size); None with fewer than two sizes."""
    if len(sizes) < 2:
        return None
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def through(sizes, values, n):
    """The figure at ``n`` videos on the broken line through the measured points in log-log
    axes, its end segments extended: between two sizes it interpolates, beyond the largest it
    grows at the rate of the two largest (where fixed costs weigh least). None with fewer than
    two sizes."""
    if len(sizes) < 2:
        return None
    x, y, at = np.log(sizes), np.log(values), np.log(n)
    i = int(np.clip(np.searchsorted(x, at) - 1, 0, len(x) - 2))
    return float(np.exp(y[i] + (y[i + 1] - y[i]) / (x[i + 1] - x[i]) * (at - x[i])))


def linear(sizes, values, n):
    """The figure at ``n`` videos on the straight line (linear axes) through the two largest
    sizes: what a fixed part plus a part proportional to the videos reaches. A log-log line
    through such figures bends that proportional part down. None with fewer than two sizes."""
    if len(sizes) < 2:
        return None
    (n1, y1), (n2, y2) = zip(sizes[-2:], values[-2:])
    return float(y2 + (y2 - y1) / (n2 - n1) * (n - n2))


def reached_at(results, count, cap):
    """The videos at which a per-size count (``count``: "clips", "training_videos") reaches
    ``cap``, at the largest size's count per video."""
    largest = max(results, key=int)
    return cap * int(largest) / results[largest][count]


CAP_NOTE = "memory independent of N once past the sample cap: figure at the cap"


def capped(entry, results, cap, memory):
    """pca's entry (``memory``: its peak MB at its sizes) with its memory figures past ``cap``
    clips (``pca.max_fit_samples``) at the cap, and "cap": {"max_fit_samples", "videos" (whose
    clips reach it), "basis", "note"}. "measured past the cap" when the largest size has more
    clips than the cap: a target beyond it gets that size's figure; else "computed at the cap":
    the figure on each line at "videos". TARGET "peak_mb_uncapped": the log-log line continued."""
    largest = max(results, key=int)
    at = reached_at(results, "clips", cap)
    past = results[largest]["clips"] > cap
    entry["cap"] = {"max_fit_samples": cap, "videos": at, "note": CAP_NOTE,
                    "basis": "measured past the cap" if past else "computed at the cap"}
    sizes = entry["sizes"]
    for target, n in TARGETS.items():
        figures = entry[target]
        figures["peak_mb_uncapped"] = figures["peak_mb"]
        if n > at:
            figures["peak_mb"] = memory[-1] if past else through(sizes, memory, at)
            figures["peak_mb_linear"] = memory[-1] if past else linear(sizes, memory, at)
    return entry


def landmarks_reached(results, landmarks):
    """{"landmarks", "videos" (whose training videos reach them), "basis"}: whether the two
    largest sizes are past ``baseline.landmarks`` training videos, beyond which the baseline's
    m x m matrices stop growing and its memory is linear in the videos."""
    largest = sorted(results, key=int)[-2:]
    past = all(results[n]["training_videos"] > landmarks for n in largest)
    return {"landmarks": landmarks, "videos": reached_at(results, "training_videos", landmarks),
            "basis": "past the landmarks" if past else "not past the landmarks"}


def growth(results, cap=None, landmarks=None):
    """{stage: {"sizes", "time_exponent", "memory_exponent" (over every size),
    "time_exponent_last", "memory_exponent_last" (the two largest sizes), TARGET: {"seconds",
    "peak_mb", "peak_mb_linear"}}} from the per-size figures of the sizes each stage ran at.
    With ``cap`` (pca.max_fit_samples), pca's memory past it is the figure at the cap (see
    ``capped``); with ``landmarks`` (baseline.landmarks), the baseline's entry says whether the
    sizes are past them (``landmarks_reached``)."""
    out = {}
    for stage in STAGES:
        ran = sorted((int(n), r["stages"][stage]) for n, r in results.items()
                     if stage in r["stages"])
        sizes = [n for n, _ in ran]
        entry = {"sizes": sizes}
        for figure, name in (("seconds", "time"), ("peak_mb", "memory")):
            values = [f[figure] for _, f in ran]
            entry[f"{name}_exponent"] = slope(sizes, values)
            entry[f"{name}_exponent_last"] = slope(sizes[-2:], values[-2:])
            for target, n in TARGETS.items():
                entry.setdefault(target, {})[figure] = through(sizes, values, n)
        memory = [f["peak_mb"] for _, f in ran]
        for target, n in TARGETS.items():
            entry[target]["peak_mb_linear"] = linear(sizes, memory, n)
        if stage == "pca" and cap is not None and sizes:
            capped(entry, results, cap, memory)
        if stage == "baseline" and landmarks is not None and sizes:
            entry["landmarks"] = landmarks_reached(results, landmarks)
        out[stage] = entry
    return out


def measured_table(results):
    sizes = list(results)
    headers = (["stage"] + [f"s @{n}" for n in sizes] + [f"MB @{n}" for n in sizes])
    rows = [[stage] + [results[n]["stages"].get(stage, {}).get("seconds") for n in sizes]
            + [results[n]["stages"].get(stage, {}).get("peak_mb") for n in sizes]
            for stage in STAGES]
    rows.append(["disk peak (MB)"] + [None] * len(sizes)
                + [results[n]["disk_peak_mb"] for n in sizes])
    return table(rows, headers, right=[False] + [True] * 2 * len(sizes), digits=1)


def growth_table(grown):
    headers = ["stage", "time exp", "(last)", "memory exp", "(last)"] + [
        f"{t} {unit}" for t in TARGETS for unit in ("s", "MB")]
    rows = [[stage, g["time_exponent"], g["time_exponent_last"], g["memory_exponent"],
             g["memory_exponent_last"]] + [g[t][f] for t in TARGETS for f in ("seconds", "peak_mb")]
            for stage, g in grown.items()]
    return table(rows, headers, right=[False] + [True] * (len(headers) - 1), digits=2)


def memory_table(grown):
    headers = ["stage"] + [f"{t} MB {kind}" for t in TARGETS for kind in ("log-log", "linear")]
    rows = [[stage] + [g[t][f] for t in TARGETS for f in ("peak_mb", "peak_mb_linear")]
            for stage, g in grown.items()]
    return table(rows, headers, right=[False] + [True] * (len(headers) - 1), digits=0)


def notes(grown):
    """What the memory extrapolations of pca and the baseline rest on, a line each."""
    lines = []
    pca = grown["pca"].get("cap")
    if pca:
        lines.append(f"pca: {pca['note']} (pca.max_fit_samples {pca['max_fit_samples']} clips, "
                     f"about {pca['videos']:.0f} videos here): {pca['basis']}")
    base = grown["baseline"].get("landmarks")
    if base:
        lines.append(f"baseline: every training video is a landmark up to baseline.landmarks "
                     f"({base['landmarks']}, about {base['videos']:.0f} videos here); the two "
                     f"largest sizes are {base['basis']}" + (
                         ": its memory is linear in the videos from there"
                         if base["basis"] == "past the landmarks" else
                         ": the m x m matrices still grow between them, so the extrapolations "
                         "carry that growth on; measure sizes past it"))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4000,10000",
                        help="numbers of videos, comma-separated")
    parser.add_argument("--out", default=str(ROOT / "bench" / "scale.json"))
    parser.add_argument("--workdir", default=None,
                        help="where the temporary projects go (default: the system's temp dir)")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--raw-dim", type=int, default=1024)
    parser.add_argument("--dims", type=int, default=500, help="pca.dims")
    parser.add_argument("--score", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.score:
        return score()
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",")})
    except ValueError:
        parser.error(f"--sizes: {args.sizes!r} is not a comma-separated list of whole numbers")
    if sizes[0] < args.classes:
        parser.error(f"--sizes: {sizes[0]} videos are fewer than the {args.classes} classes")
    p = bench_params(args.dims)
    dvc = yaml.safe_load((ROOT / DVC_YAML).read_text())
    attrs = shard_attrs(p, args.raw_dim)
    settings = {"params": {k: p[k] for k in ("pca", "sequence", "zsl", "train", "baseline")},
                "classes": args.classes, "raw_dim": args.raw_dim, "mean_clips": MEAN_CLIPS,
                "train_commands": [" ".join([Path(a[1]).relative_to(ROOT).as_posix(), *a[2:]])
                                   for a in stage_commands(dvc, p)["train"]]}
    print(f"== scale: {', '.join(map(str, sizes))} videos of synthetic features, "
          f"{args.classes} classes -> {p['pca']['dims']} PCA dims x {p['sequence']['steps']} "
          f"steps\n   disk kept down by {args.raw_dim}-d features (I3D's width), {MEAN_CLIPS} "
          f"clips per video on average, {p['sequence']['dtype']} sequences\n"
          f"   train: ONE epoch of a SMALL network (lstm1 {p['train']['lstm1']}, lstm2 "
          f"{p['train']['lstm2']}, attention {p['train']['attention']}), one "
          f"{p['zsl']['ratios'][0]} split and the all-classes model\n"
          f"   baseline: {p['baseline']['landmarks']} Nystrom landmarks; evaluate: the stage's "
          f"score_split and summarise on train's outputs", flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="action2vec-scale-", dir=args.workdir) as work:
        for n in sizes:
            project = Path(work) / f"videos-{n}"
            results[n] = run_size(project, n, args, p, dvc, attrs)
            shutil.rmtree(project)
            print(f"  {n} videos: disk peak {results[n]['disk_peak_mb']:.0f} MB; "
                  f"{results[n]['score']}", flush=True)
            grown = growth(results, p["pca"]["max_fit_samples"], p["baseline"]["landmarks"])
            # written after each size: a failure keeps those done
            Path(args.out).write_text(json.dumps({"settings": settings, "sizes": results,
                                                  "growth": grown, "targets": TARGETS}, indent=1))
    print("seconds and peak memory (MB, largest process) per stage and number of videos:")
    print(measured_table(results))
    print("growth exponents (least-squares slope of log figure vs log videos, over every size; "
          "(last): between the two largest) and extrapolation (log-log line through the "
          "measured points, beyond the largest at its last slope):")
    print(growth_table(grown))
    print("peak memory (MB) at the targets: log-log (the table above) and linear (straight line "
          "through the two largest sizes, what a part proportional to the videos reaches):")
    print(memory_table(grown))
    print("\n".join(notes(grown)))
    print(f"written to {args.out}")


if __name__ == "__main__":
    try:
        main()
    except Action2VecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
