"""`make bench`: speed and memory of the pipeline's parts on this machine, measured side by side
in one run, with the settings of params.yaml. Prints a table and writes bench/results.json.

Ratios are what to read (the machine may be shared): the whole extract stage against the bare
network forward (the pipeline's overhead), the forward's GFLOP/s against a large fp32 matmul's
(the hardware ceiling), the project's reader against plain decord, the decode work of a video
(the decode stage's check and extraction's decode) against one decode.
"""

import argparse
import json
import os
import platform
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

from action2vec import params  # noqa: E402
from action2vec.extractors import make_extractor  # noqa: E402
from action2vec.features import extract  # noqa: E402
from action2vec.render import render_frames, write_video  # noqa: E402
from action2vec.shards import ShardWriter  # noqa: E402
from action2vec.stage import table  # noqa: E402
from action2vec.video import probe, read_frames  # noqa: E402


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


def rendered(folder, render, seed):
    """One video of the rendered dataset at the params' render settings (the default dataset's
    clips: short, so the check's fixed cost weighs most there)."""
    path = folder / f"rendered-{render['frames']}f-{render['width']}x{render['height']}.mp4"
    write_video(path, render_frames("bounce", "ball", np.random.default_rng(seed),
                                    render["frames"], render["width"], render["height"]))
    return path


def bench_decode_work(paths, size, fps, max_seconds, repeat=5):
    """Decode work per video: the decode stage's check (probe) and extraction's decode (frames
    at the network's size), against that one decode. 1.0 would be a check that costs nothing."""
    videos = {}
    for path in paths:
        check, decode = fastest([lambda: probe(path, fps, max_seconds),
                                 lambda: read_frames(path, fps, max_seconds, size=size)], repeat)
        videos[path.name] = {"probe_s": check, "decode_s": decode,
                             "work": (check + decode) / decode}
    return {"videos": videos, "worst": max(v["work"] for v in videos.values())}


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


def matmul_gflops(device, n=2048, repeat=5):
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)

    def run():
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()

    return 2 * n ** 3 / seconds(run, repeat) / 1e9


def bench_pca(dims, seed, n=20000, d=4096):
    from sklearn.decomposition import PCA

    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    pca = PCA(n_components=dims, svd_solver="randomized", random_state=seed)
    start = time.perf_counter()
    pca.fit(x)
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


def noop_repro():
    """Seconds of a `dvc repro` that has nothing to do, or None when the pipeline is not
    up to date (run `make run` first)."""
    status = subprocess.run(DVC + ["status", "--quiet"], cwd=ROOT, capture_output=True)
    if status.returncode != 0:
        return None
    start = time.perf_counter()
    subprocess.run(DVC + ["repro"], cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - start


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
    e, d, m = results["extract"], results["decode"], results["memory_mb"]
    rows = [
        ("decode, project reader", f"{d['project_fps']:.0f} frames/s"),
        ("decode, plain decord", f"{d['decord_fps']:.0f} frames/s"),
        ("extract stage (decode+prep+net+HDF5)", f"{e['pipeline_clips_per_s']:.2f} clips/s"),
        ("bare forward, same batch", f"{e['bare_forward_clips_per_s']:.2f} clips/s"),
        ("overhead (bare / stage)", f"{e['overhead']:.3f}"),
        ("forward GFLOP/s", f"{results['forward_gflops']:.1f}"),
        ("fp32 matmul GFLOP/s", f"{results['matmul_gflops']:.1f}"),
        ("forward / matmul", f"{results['forward_gflops'] / results['matmul_gflops']:.2f}"),
        ("PCA fit", f"{results['pca']['fit_samples_per_s']:.0f} samples/s"),
        ("sequence write", f"{results['sequence']['videos_per_s']:.0f} videos/s"),
        ("HRNN training", f"{results['training']['train_samples_per_s']:.1f} samples/s"),
        ("HRNN inference", f"{results['training']['inference_samples_per_s']:.1f} samples/s"),
        ("no-op dvc repro", "not up to date" if results["noop_repro_s"] is None
         else f"{results['noop_repro_s']:.2f} s"),
        (f"extract peak memory, {m['short_seconds']} s video", f"{m['short']:.0f} MB"),
        (f"extract peak memory, {m['long_seconds']} s video", f"{m['long']:.0f} MB"),
    ] + [(f"decode work per video, {name} ((probe + decode) / decode)", f"{v['work']:.3f}")
         for name, v in results["decode_work"]["videos"].items()]
    return table(rows)


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
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes everywhere (one 1 s video, a small PCA and training "
                             "step), to check that the script runs: the figures mean little")
    parser.add_argument("--extract-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.videos, args.video_seconds, args.long_seconds, args.work_seconds = 1, 1.0, 2.0, "1"
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
        work.append(rendered(tmp, p["render"], p["seed"]))
        results["decode_work"] = bench_decode_work(work, extractor.frame_size, dec["fps"],
                                                   dec["max_seconds"])
        print("extract ...", flush=True)
        results["extract"] = bench_extract(paths, extractor, dec, feat, tmp / "shards")
        flops = forward_flops(extractor)
        results["forward_gflop_per_clip"] = flops / 1e9
        results["forward_gflops"] = flops * results["extract"]["bare_forward_clips_per_s"] / 1e9
        results["matmul_gflops"] = matmul_gflops(device)
        print("pca, sequence, training ...", flush=True)
        small = {"n": 2000, "d": 256} if args.quick else {}
        results["pca"] = bench_pca(p["pca"]["dims"], p["seed"], **small)
        results["sequence"] = bench_sequence(p["sequence"]["steps"], p["pca"]["dims"], tmp,
                                             n=200 if args.quick else 2000)
        train = {**p["train"], "batch_size": 2} if args.quick else p["train"]
        results["training"] = bench_training(train, p["sequence"]["steps"], p["pca"]["dims"],
                                             iterations=1 if args.quick else 5)
        results["noop_repro_s"] = noop_repro()
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
