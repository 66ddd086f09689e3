"""`make bench`: speed and memory of the pipeline's parts on this machine, measured side by side
in one run, with the settings of params.yaml. Prints a table and writes bench/results.json.

Ratios are what to read (the machine may be shared): the whole extract stage against the bare
network forward (the pipeline's overhead), the forward's GFLOP/s against the fp32 ceiling (the
fastest of several kernels measured here: matmuls of 1024-4096, a batched matmul, and each 3-D
convolution of the network alone at its own shapes; the FMA peak computed from the CPU's cores,
clock and vector width beside it), the project's reader against plain decord, the decode work of
a video (the decode stage's check and extraction's decode) against one decode, the train stage
on 2 workers against 1.

The no-op `dvc repro` is timed in a copy of the project that the benchmark reproduces first
(tiny settings, TINY_PROJECT; about 3 minutes on 2 cores), or in ``--project DIR``, a project
already reproduced.
"""

import argparse
import importlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DVC = [sys.executable, "-m", "dvc"]  # the dvc of this environment, whatever PATH says
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))

from action2vec import params  # noqa: E402
from action2vec.extractors import make_extractor  # noqa: E402
from action2vec.features import extract  # noqa: E402
from action2vec.pca import fit_pca  # noqa: E402
from action2vec.render import CLASSES, render_frames, write_video  # noqa: E402
from action2vec.shards import ShardWriter  # noqa: E402
from action2vec.stage import table  # noqa: E402
from action2vec.video import probe, read_frames  # noqa: E402
from project import new_project, project_env, set_params  # noqa: E402  (as the tests make)

# The project copy whose `dvc repro` the benchmark runs before timing a no-op one: one rendered
# video per class, a tiny network, one epoch (every stage of dvc.yaml runs).
TINY_PROJECT = {"render": {"videos_per_class": 1, "frames": 32}, "pca": {"dims": 8},
                "sequence": {"steps": 6},
                "train": {"chunk": 2, "lstm1": 32, "lstm2": 16, "attention": 8, "epochs": 1,
                          "batch_size": 8}}


def seconds(fn, repeat=1):
    """Wall time of ``repeat`` calls of fn, after one warm-up call."""
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def encode(path, n_seconds, fps=30, height=240, width=320, codec="libx264"):
    """A real H.264 video of moving gradients (decoding cost like a real one's), n_seconds long;
    with ``codec="mpeg4"`` and a .avi path, an MPEG-4 AVI."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        ys, xs = np.mgrid[0:height, 0:width]
        for t in range(int(n_seconds * fps)):
            frame = np.stack([(xs + 3 * t) % 256, (ys + 2 * t) % 256, (xs + ys + t) % 256], -1)
            video_frame = av.VideoFrame.from_ndarray(frame.astype(np.uint8), format="rgb24")
            out.mux(stream.encode(video_frame))
        out.mux(stream.encode())
    return path


def bench_decode(paths, size, fps):
    """Frames/s of the project's reader against plain decord reading every frame, same files."""
    import decord

    def project():
        return sum(len(read_frames(p, fps, 1e9, size=size)) for p in paths)

    def plain():
        total = 0
        for p in paths:
            reader = decord.VideoReader(str(p), width=size[1], height=size[0])
            total += len(reader.get_batch(list(range(len(reader)))).asnumpy())
        return total

    frames = project()
    return {"frames": frames, "project_fps": frames / seconds(project),
            "decord_fps": frames / seconds(plain)}


def fastest(fns, repeat):
    """The fastest wall time of each of ``fns`` over ``repeat`` rounds that call each once, in
    turn, after one warm-up round: alternated, so that a busy spell slows them alike."""
    best = [float("inf")] * len(fns)
    for round_ in range(repeat + 1):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            if round_:
                best[i] = min(best[i], time.perf_counter() - start)
    return best


def rendered(folder, render, seed, count):
    """``count`` videos of the rendered dataset (its first classes, one video each) at the
    params' render settings, as the render stage writes them: the default dataset's clips,
    short, so the check's fixed cost weighs most there."""
    paths = []
    for i, name in enumerate(CLASSES[:count]):
        verb, noun = name.split()
        path = folder / f"rendered-{verb}_{noun}-{render['frames']}f.mp4"
        write_video(path, render_frames(verb, noun, np.random.default_rng([seed, i]),
                                        render["frames"], render["width"], render["height"]))
        paths.append(path)
    return paths


def bench_decode_work(paths, size, fps, max_seconds, repeat=10):
    """Decode work per video: the decode stage's check (probe) and extraction's decode (frames
    at the network's size), against that one decode. 1.0 would be a check that costs nothing."""
    videos = {}
    for path in paths:
        check, decode = fastest([lambda: probe(path, fps, max_seconds),
                                 lambda: read_frames(path, fps, max_seconds, size=size)], repeat)
        videos[path.name] = {"probe_s": check, "decode_s": decode,
                             "work": (check + decode) / decode}
    return {"videos": videos, "worst": max(v["work"] for v in videos.values())}


def decode_work_of(work, prefix):
    """(probe + decode) / decode over the videos of ``work`` whose names start with
    ``prefix``, their times summed: the decode work of a dataset of such videos."""
    chosen = [v for name, v in work["videos"].items() if name.startswith(prefix)]
    return sum(v["probe_s"] + v["decode_s"] for v in chosen) / sum(v["decode_s"] for v in chosen)


def forward_flops(extractor):
    """Floating-point operations of one clip's forward pass, counted from the layers' shapes."""
    flops = []

    def count(module, inputs, output):
        if isinstance(module, torch.nn.Conv3d):
            k = module.in_channels // module.groups * int(np.prod(module.kernel_size))
            flops.append(2 * output.numel() * k)
        elif isinstance(module, torch.nn.Linear):
            flops.append(2 * output.numel() * module.in_features)

    hooks = [m.register_forward_hook(count) for m in extractor.net.modules()]
    h, w = extractor.frame_size
    crop = getattr(extractor, "crop", min(h, w))
    extractor.features(np.zeros((1, extractor.clip_len, crop, crop, 3), np.uint8))
    for hook in hooks:
        hook.remove()
    return sum(flops)


def extract_videos(paths, extractor, dec, feat, out_dir):
    """The extract stage's work on ``paths`` (decode, preprocessing, network, HDF5 shards):
    the number of clips extracted."""
    with ShardWriter(out_dir, {"bench": True}, feat["shard_videos"]) as writer:
        return extract([{"path": str(p), "id": p.stem, "class": "x"} for p in paths], extractor,
                       dec["fps"], dec["max_seconds"], feat["stride"], feat["batch_size"],
                       on_video=lambda v, f: writer.add(v["id"], v["class"], f),
                       on_error=lambda v, m: None, progress=False, workers=dec["workers"])


def bench_extract(paths, extractor, dec, feat, out_dir):
    """Clips/s of the whole extraction (decode, preprocessing, network, HDF5) against the bare
    forward on random input of the same batch size."""
    crop = getattr(extractor, "crop", extractor.frame_size[0])
    batch = np.random.default_rng(0).integers(
        0, 255, (feat["batch_size"], extractor.clip_len, crop, crop, 3), dtype=np.uint8)
    extractor.features(batch)  # warm-up (kernel selection), for both timings alike
    start = time.perf_counter()
    clips = extract_videos(paths, extractor, dec, feat, out_dir)
    pipeline = clips / (time.perf_counter() - start)
    repeat = max(1, clips // feat["batch_size"])
    bare = feat["batch_size"] / seconds(lambda: extractor.features(batch), repeat)
    return {"clips": clips, "pipeline_clips_per_s": pipeline, "bare_forward_clips_per_s": bare,
            "overhead": bare / pipeline}


def kernel_gflops(fn, flop, device, repeat=3):
    """GFLOP/s of ``fn`` (``flop`` operations a call) at its fastest of ``repeat`` calls after a
    warm-up: a ceiling is the best a kernel does."""
    def run():
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return flop / fastest([run], repeat)[0] / 1e9


def matmul_kernels(device, sizes=(1024, 2048, 4096), batch=(64, 512)):
    """{kernel: GFLOP/s} of fp32 matmuls of ``sizes`` and one batched matmul (``batch``:
    count, size), on torch's threads."""
    rates = {}
    for n in sizes:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        rates[f"matmul {n}x{n}"] = kernel_gflops(lambda: a @ b, 2 * n ** 3, device)
    count, n = batch
    a, b = torch.randn(count, n, n, device=device), torch.randn(count, n, n, device=device)
    rates[f"batched matmul {count}x{n}x{n}"] = kernel_gflops(lambda: a @ b, 2 * count * n ** 3,
                                                              device)
    return rates


def conv_kernels(extractor, batch_size):
    """{kernel: GFLOP/s} of each 3-D convolution of the extractor's network alone, on the input
    it gets in a forward of ``batch_size`` clips, in inference mode and the extractor's
    precision (torch's own choice of backend, as in the forward). The forward's rate is a
    weighted mean of its layers' rates, slowed by what is not a convolution, so the fastest
    of these is at least the forward's own rate."""
    shapes = []

    def keep(module, inputs, output):
        k = module.in_channels // module.groups * int(np.prod(module.kernel_size))
        shapes.append((module, tuple(inputs[0].shape), 2 * output.numel() * k))

    convs = [m for m in extractor.net.modules() if isinstance(m, torch.nn.Conv3d)]
    hooks = [m.register_forward_hook(keep) for m in convs]
    crop = getattr(extractor, "crop", min(extractor.frame_size))
    extractor.features(np.zeros((batch_size, extractor.clip_len, crop, crop, 3), np.uint8))
    for hook in hooks:
        hook.remove()
    names = {m: name for name, m in extractor.net.named_modules()}
    rates = {}
    with torch.inference_mode(), extractor.autocast():
        for module, shape, flop in shapes:
            x = torch.randn(shape, device=extractor.device)
            rates[f"conv3d {names[module]} {'x'.join(map(str, shape))}"] = kernel_gflops(
                lambda: module(x), flop, extractor.device, repeat=2)
    return rates


def ceiling(rates):
    """(kernel, GFLOP/s) of the fastest of ``rates`` ({kernel: GFLOP/s}): the fp32 ceiling."""
    kernel = max(rates, key=rates.get)
    return kernel, rates[kernel]


# fp32 operations per cycle and core: 2 FMA units x lanes (16 with AVX-512, 8 with AVX2) x 2
FLOP_PER_CYCLE = (("avx512f", 64), ("avx2", 32))


def fma_peak(flags, mhz, cores):
    """The fp32 FMA peak in GFLOP/s of ``cores`` cores at ``mhz`` with CPU ``flags``, assuming 2
    FMA units per core (an upper bound at that clock: some CPUs have one), or None without FMA.
    A turbo clock above the listed one makes the true peak higher."""
    if "fma" not in flags:
        return None
    per_cycle = next((n for flag, n in FLOP_PER_CYCLE if flag in flags), 8)
    return cores * mhz / 1e3 * per_cycle


def computed_peak(cpuinfo="/proc/cpuinfo"):
    """fma_peak of this machine from /proc/cpuinfo's flags and listed clock ("cpu MHz") and the
    cores this process may use, with what it was computed from; None where unreadable."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    flags = re.search(r"^flags\s*:(.*)$", text, re.M)
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", text, re.M)
    if not flags or not mhz:
        return None
    flags, mhz, cores = set(flags.group(1).split()), float(mhz.group(1)), len(
        os.sched_getaffinity(0))
    vector = next((flag for flag, _ in FLOP_PER_CYCLE if flag in flags), "sse")
    return {"gflops": fma_peak(flags, mhz, cores), "cores": cores, "mhz": mhz,
            "vector": vector, "fma": "fma" in flags}


def bench_ceiling(extractor, batch_size, forward_gflops, device):
    """The fp32 ceiling measured (the fastest kernel), the computed FMA peak beside it, and the
    forward's fraction of the ceiling."""
    kernels = {**matmul_kernels(device), **conv_kernels(extractor, batch_size)}
    kernel, gflops = ceiling(kernels)
    return {"kernels": kernels, "kernel": kernel, "gflops": gflops,
            "computed_peak": computed_peak() if device.type == "cpu" else None,
            "forward_fraction": forward_gflops / gflops}


def synthetic_shards(folder, n, d, seed, clips_per_video=20):
    """``n`` random clip feature vectors of ``d`` values, in real feature shards of videos of
    ``clips_per_video`` clips (what the pca stage reads)."""
    rng = np.random.default_rng(seed)
    with ShardWriter(folder, {"bench": True}, 256) as writer:
        for i, start in enumerate(range(0, n, clips_per_video)):
            count = min(clips_per_video, n - start)
            writer.add(f"v{i:06d}", "x", rng.normal(size=(count, d)).astype(np.float32))
    return folder


def bench_pca(dims, seed, folder, n=20000, d=4096):
    """Samples/s of the pca stage's own fit (action2vec.pca.fit_pca: its sample read from the
    feature shards, then fitted) on ``n`` random clips of ``d`` values."""
    importlib.import_module("scipy.linalg")  # before the clock starts: the fit's own time

    synthetic_shards(folder, n, d, seed)
    start = time.perf_counter()
    fit_pca(folder, dims, n, seed)
    return {"samples": n, "input_dim": d, "fit_samples_per_s": n / (time.perf_counter() - start)}


def bench_sequence(steps, dims, out_dir, n=2000):
    from action2vec.sequences import write_sequences

    rng = np.random.default_rng(0)
    videos = [(f"v{i}", "x", rng.normal(size=(int(rng.integers(1, 2 * steps)), dims))
               .astype(np.float32)) for i in range(n)]
    start = time.perf_counter()
    write_sequences(Path(out_dir) / "bench.h5", iter(videos), steps, dims)
    return {"videos_per_s": n / (time.perf_counter() - start)}


def bench_training(train, steps, dims, embed_dim=50, n_classes=20, iterations=5):
    from action2vec.model import HRNN, HRNNConfig, dual_loss

    torch.manual_seed(0)
    model = HRNN(HRNNConfig(input_dim=dims, embed_dim=embed_dim, n_classes=n_classes,
                            chunk=train["chunk"], lstm1=train["lstm1"], lstm2=train["lstm2"],
                            attention=train["attention"], dropout=train["dropout"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=train["lr"])
    x = torch.randn(train["batch_size"], steps, dims)
    lengths = torch.full((train["batch_size"],), steps)
    labels = torch.randint(0, n_classes, (train["batch_size"],))
    vectors = torch.randn(n_classes, embed_dim)

    def step():
        optimizer.zero_grad()
        embeddings, logits = model(x, lengths)
        loss = dual_loss(embeddings, logits, labels, vectors, 0.02)[0]
        loss.backward()
        optimizer.step()

    train_rate = train["batch_size"] / seconds(step, iterations)
    model.eval()
    with torch.inference_mode():
        infer_rate = train["batch_size"] / seconds(lambda: model(x, lengths), iterations)
    return {"train_samples_per_s": train_rate, "inference_samples_per_s": infer_rate}


def dvc(repo, *args):
    """Run dvc in ``repo`` as the tests do (this environment first on PATH, DVC's site cache
    in the project); raises with its output when it fails."""
    done = subprocess.run(DVC + list(args), cwd=repo, env=project_env(Path(repo)),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} failed in {repo} (exit {done.returncode}):"
                           f"\n{done.stdout}\n{done.stderr[-3000:]}")
    return done


def reproduced_project(folder):
    """(a copy of the project with TINY_PROJECT's settings after its first `dvc repro`, the
    seconds that repro took)."""
    repo = new_project(Path(folder) / "project", TINY_PROJECT)
    start = time.perf_counter()
    dvc(repo, "repro")
    return repo, time.perf_counter() - start


def noop_repro(repo):
    """Seconds of a `dvc repro` in ``repo`` that has nothing to do, after a `dvc status` that
    must find it up to date (which also leaves DVC's hashes of the outputs cached, as in a
    project in daily use)."""
    status = dvc(repo, "status", "--quiet")
    if status.stdout.strip():
        raise RuntimeError(f"{repo} is not up to date:\n{status.stdout}")
    start = time.perf_counter()
    dvc(repo, "repro")
    return time.perf_counter() - start


# The train stage's trainings timed on 1 and 2 workers: 1 full model and 3 splits of 2 variants
# (7 trainings) on synthetic features, as bench/scale.py builds its projects, of the network of
# params.yaml for WORKERS_EPOCHS epochs.
WORKERS_ZSL = {"ratios": ["80_20"], "n_splits": 3, "variants": ["action2vec", "cos_only"]}
WORKERS_EPOCHS = 2


def train_on(project, workers, argvs):
    """Seconds of the train stage in ``project`` on ``workers`` workers, every training run
    (none reused from an earlier run)."""
    set_params(project, train={"workers": workers})
    for folder in ("data/train", ".resume"):
        shutil.rmtree(project / folder, ignore_errors=True)
    start = time.perf_counter()
    for argv in argvs:
        subprocess.run(argv, cwd=project, check=True, capture_output=True)
    return time.perf_counter() - start


def bench_workers(folder, n_videos, dims, train, raw_dim=1024, n_classes=20, repeat=1):
    """Wall time of the same trainings (``train`` settings) on 1 and 2 workers
    (train.workers), alternated ``repeat`` times, and their ratio: 0.5 would be 2 workers at
    twice the speed."""
    import yaml

    from bench import scale

    p = scale.bench_params(dims)
    p["zsl"].update(WORKERS_ZSL)
    p["train"].update(train)
    project = Path(folder) / "trainings"
    project.mkdir()
    scale.write_project(project, p, n_videos, n_classes, scale.shard_attrs(p, raw_dim))
    runs = scale.stage_commands(yaml.safe_load((ROOT / "dvc.yaml").read_text()), p)
    for stage in ("splits", "pca", "sequence"):
        for argv in runs[stage]:
            subprocess.run(argv, cwd=project, check=True, capture_output=True)
    serial, parallel = [], []
    for _ in range(repeat):
        serial.append(train_on(project, 1, runs["train"]))
        parallel.append(train_on(project, 2, runs["train"]))
    return {"videos": n_videos, "trainings": 1 + WORKERS_ZSL["n_splits"] * len(
        WORKERS_ZSL["variants"]), "train": train, "serial_s": min(serial),
        "parallel_s": min(parallel), "ratio": min(parallel) / min(serial)}


def peak_memory_of_extract(path):
    """Peak resident memory (MB) of a separate process extracting one video with params.yaml's
    settings."""
    child = subprocess.Popen([sys.executable, __file__, "--extract-one", str(path)], cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise RuntimeError(f"extracting {path} failed (status {status})")
    return usage.ru_maxrss / 1024


def extract_one(path):
    p = params.read()  # the whole validated file: the benchmark is not a stage
    feat, dec = p["features"], p["decode"]
    extractor = make_extractor(feat["backbone"], feat["layer"], feat["weights"], p["seed"],
                               feat["device"])
    with tempfile.TemporaryDirectory() as tmp:
        extract_videos([Path(path)], extractor, dec, feat, tmp)


def figures(results):
    """The figures as a two-column text table."""
    e, d, m, c = results["extract"], results["decode"], results["memory_mb"], results["ceiling"]
    w, r = results["workers"], results["repro"]
    rows = [
        ("decode, project reader", f"{d['project_fps']:.0f} frames/s"),
        ("decode, plain decord", f"{d['decord_fps']:.0f} frames/s"),
        ("extract stage (decode+prep+net+HDF5)", f"{e['pipeline_clips_per_s']:.2f} clips/s"),
        ("bare forward, same batch", f"{e['bare_forward_clips_per_s']:.2f} clips/s"),
        ("overhead (bare / stage)", f"{e['overhead']:.3f}"),
        ("forward GFLOP/s", f"{results['forward_gflops']:.1f}"),
        (f"fp32 ceiling GFLOP/s (fastest of {len(c['kernels'])} kernels measured: "
         f"{c['kernel']})", f"{c['gflops']:.1f}"),
        ("computed FMA peak GFLOP/s (" + peak_how(c["computed_peak"]) + ")",
         "-" if c["computed_peak"] is None or c["computed_peak"]["gflops"] is None
         else f"{c['computed_peak']['gflops']:.1f}"),
        ("forward / ceiling", f"{c['forward_fraction']:.2f}"
         + (" (ABOVE the ceiling: a kernel is missing)" if c["forward_fraction"] > 1 else "")),
        ("PCA fit", f"{results['pca']['fit_samples_per_s']:.0f} samples/s"),
        ("sequence write", f"{results['sequence']['videos_per_s']:.0f} videos/s"),
        ("HRNN training", f"{results['training']['train_samples_per_s']:.1f} samples/s"),
        ("HRNN inference", f"{results['training']['inference_samples_per_s']:.1f} samples/s"),
        (f"train stage, {w['trainings']} trainings: 2 workers / 1 (this machine: "
         f"{os.cpu_count()} CPUs)", f"{w['parallel_s']:.1f} / {w['serial_s']:.1f} s: "
         f"{w['ratio']:.2f}"),
        (f"no-op dvc repro ({r['project']})", f"{r['noop_s']:.2f} s"),
        (f"extract peak memory, {m['short_seconds']} s video", f"{m['short']:.0f} MB"),
        (f"extract peak memory, {m['long_seconds']} s video", f"{m['long']:.0f} MB"),
    ] + [(f"decode work per video, {name} ((probe + decode) / decode)", f"{v['work']:.3f}")
         for name, v in results["decode_work"]["videos"].items()] + [
        ("decode work, the rendered videos together",
         f"{results['decode_work']['rendered']:.3f}")]
    return table(rows)


def peak_how(peak):
    """What a computed peak assumed, in words."""
    if peak is None:
        return "not computed: no /proc/cpuinfo, or not on a CPU"
    if not peak["fma"]:
        return "no FMA"
    return f"{peak['cores']} cores x {peak['mhz']:.0f} MHz listed x {peak['vector']} 2 FMA units"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--videos", type=int, default=4, help="videos in the extract run")
    parser.add_argument("--video-seconds", type=float, default=4.0)
    parser.add_argument("--long-seconds", type=float, default=600.0,
                        help="length of the long video of the memory test")
    parser.add_argument("--work-seconds", default="1,5,10",
                        help="lengths of the H.264 videos of the decode work figure (and one "
                             "AVI of the middle length, and one rendered clip as params.yaml's "
                             "render section makes them)")
    parser.add_argument("--project", help="time the no-op `dvc repro` in this project, "
                        "already reproduced, instead of reproducing a tiny copy first")
    parser.add_argument("--rendered", type=int, default=6,
                        help="rendered videos of the decode work figure")
    parser.add_argument("--train-videos", type=int, default=300,
                        help="videos of the synthetic project whose trainings run on 1 and 2 "
                             "workers")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes everywhere (one 1 s video, a small PCA and training "
                             "step), to check that the script runs: the figures mean little")
    parser.add_argument("--extract-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.videos, args.video_seconds, args.long_seconds, args.work_seconds = 1, 1.0, 2.0, "1"
        args.rendered, args.train_videos = 2, 60
    if args.extract_one:
        return extract_one(args.extract_one)

    p = params.read()  # the whole validated file: the benchmark is not a stage
    feat, dec = p["features"], p["decode"]
    if args.quick:
        feat = {**feat, "batch_size": 2}
    device = torch.device(feat["device"])
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                           "torch_threads": torch.get_num_threads(), "device": str(device),
                           "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None},
               "settings": {"features": feat, "decode": dec}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("encoding test videos ...", flush=True)
        paths = [encode(tmp / f"v{i}.mp4", args.video_seconds) for i in range(args.videos)]
        extractor = make_extractor(feat["backbone"], feat["layer"], feat["weights"], p["seed"],
                                   feat["device"])
        print("decode ...", flush=True)
        results["decode"] = bench_decode(paths, extractor.frame_size, dec["fps"])
        lengths = [float(x) for x in args.work_seconds.split(",")]
        work = [encode(tmp / f"{n:g}s.mp4", n) for n in lengths]
        middle = lengths[len(lengths) // 2]
        work.append(encode(tmp / f"{middle:g}s.avi", middle, codec="mpeg4"))
        work += rendered(tmp, p["render"], p["seed"], args.rendered)
        results["decode_work"] = bench_decode_work(work, extractor.frame_size, dec["fps"],
                                                   dec["max_seconds"])
        results["decode_work"]["rendered"] = decode_work_of(results["decode_work"], "rendered-")
        print("extract ...", flush=True)
        results["extract"] = bench_extract(paths, extractor, dec, feat, tmp / "shards")
        flops = forward_flops(extractor)
        results["forward_gflop_per_clip"] = flops / 1e9
        results["forward_gflops"] = flops * results["extract"]["bare_forward_clips_per_s"] / 1e9
        print("fp32 ceiling ...", flush=True)
        results["ceiling"] = bench_ceiling(extractor, feat["batch_size"],
                                           results["forward_gflops"], device)
        print("pca, sequence, training ...", flush=True)
        small = {"n": 2000, "d": 256} if args.quick else {}
        results["pca"] = bench_pca(p["pca"]["dims"], p["seed"], tmp / "pca-features", **small)
        results["sequence"] = bench_sequence(p["sequence"]["steps"], p["pca"]["dims"], tmp,
                                             n=200 if args.quick else 2000)
        train = {**p["train"], "batch_size": 2} if args.quick else p["train"]
        results["training"] = bench_training(train, p["sequence"]["steps"], p["pca"]["dims"],
                                             iterations=1 if args.quick else 5)
        print("the train stage on 1 and 2 workers ...", flush=True)
        network = {k: train[k] for k in ("chunk", "lstm1", "lstm2", "attention", "batch_size")}
        results["workers"] = bench_workers(
            tmp, args.train_videos, 16 if args.quick else p["pca"]["dims"],
            {"epochs": 1} if args.quick else {**network, "epochs": WORKERS_EPOCHS},
            repeat=1 if args.quick else 2)
        if args.project:
            repo, first = Path(args.project).resolve(), None
        else:
            print("dvc repro of a tiny copy of the project, then a no-op one ...", flush=True)
            repo, first = reproduced_project(tmp)
        results["repro"] = {"project": str(repo) if args.project else "a tiny copy, reproduced",
                            "first_s": first, "noop_s": noop_repro(repo)}
        print("memory: short and long video ...", flush=True)
        short = encode(tmp / "short.mp4", args.video_seconds)
        long = encode(tmp / "long.mp4", args.long_seconds)
        results["memory_mb"] = {"short_seconds": args.video_seconds,
                                "long_seconds": args.long_seconds,
                                "short": peak_memory_of_extract(short),
                                "long": peak_memory_of_extract(long)}
    Path(args.out).write_text(json.dumps(results, indent=1, default=str))
    print(figures(results))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
