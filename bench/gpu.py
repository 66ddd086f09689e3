"""GPU figures of the pipeline's parts, measured side by side in one run. Prints tables and
writes bench/gpu.json.

On a CUDA machine, from a fresh clone, one command installs the project and measures:

    sh bench/gpu.sh          # make install, then: .venv/bin/python bench/gpu.py --device cuda

- C3D clips/s against batch size, in float16 (autocast, the extract stage's precision on a GPU)
  and float32: the bare forward of the extractor on random clips;
- the extract stage end to end (decode threads, preprocessing, C3D, HDF5 shards) on real H.264
  videos, against the bare forward at the same batch size: every batch size at the most decode
  workers, then every number of workers at the batch size where the stage is fastest;
- HRNN training samples/s at 52 x 500 (the action2vec variant with params.yaml's train settings,
  the dual loss, Adam; float16 autocast and GradScaler on a GPU, as training does);
- the default pipeline end to end: `dvc repro` in a temporary copy of the project with
  features.device and train.device set to the device.

Every figure is a wall time after a warm-up call, with the GPU synchronised before the clock is
read. ``--device cpu`` runs the same code on a CPU (float16 is left out there: a CPU emulates it,
far slower); ``--quick`` takes tiny sizes, to check that the script runs.
"""

import argparse
import copy
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
sys.path.insert(0, str(ROOT))

from action2vec import params  # noqa: E402
from action2vec.extractors import make_extractor  # noqa: E402
from action2vec.features import extract  # noqa: E402
from action2vec.files import atomic  # noqa: E402
from action2vec.model import HRNN, HRNNConfig, dual_loss  # noqa: E402
from action2vec.shards import ShardWriter  # noqa: E402
from action2vec.stage import table  # noqa: E402
from action2vec.training import TrainConfig, one_cpu_thread, seed_everything  # noqa: E402
from bench.run import encode, forward_flops  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from project import new_project, project_env  # noqa: E402  (a project copy, as the tests make)

PAPER_DIMS = 500  # PCA dimension of the paper's sequences (params.yaml's is for the tiny dataset)
EMBED_DIM = 50  # GloVe 6B 50-d, the default word vectors
N_CLASSES = 80  # seen classes of UCF101 at 80_20
# --quick: the pipeline on one rendered video per class, a tiny network, one epoch.
QUICK_PIPELINE = {"render": {"videos_per_class": 1, "frames": 32}, "pca": {"dims": 8},
                  "sequence": {"steps": 6},
                  "train": {"chunk": 2, "lstm1": 32, "lstm2": 16, "attention": 8, "epochs": 1,
                            "batch_size": 8}}

SIZES = {  # the sweeps: full, and --quick
    "full": {"batch_sizes": [8, 16, 32, 64, 128], "workers": [1, 2, 4, 8, 16],
             "train_batch_sizes": [16, 32, 64, 128, 256], "videos": 48, "files": 4,
             "min_seconds": 1.0},
    "quick": {"batch_sizes": [1, 2], "workers": [1, 2], "train_batch_sizes": [1, 2],
              "videos": 1, "files": 1, "video_seconds": 0.6, "min_seconds": 0.0},
}


def check_device(name):
    """The torch device named, or SystemExit with one clear line when it cannot be used."""
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise SystemExit(f"error: --device {name}: {exc}") from None
    if device.type not in ("cpu", "cuda"):
        raise SystemExit(f"error: --device {name}: choose cpu or cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        build = ("a CPU-only build" if torch.version.cuda is None
                 else f"built for CUDA {torch.version.cuda}")
        raise SystemExit(f"error: --device {name}: no GPU is visible to torch "
                         f"{torch.__version__} ({build}); check nvidia-smi and "
                         "CUDA_VISIBLE_DEVICES, or run with --device cpu")
    return device


def synchronize(device):
    """Wait for the GPU's queued work, so that a clock read afterwards includes it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(fn, items, device, min_seconds):
    """Calls of fn, each handling ``items`` (clips, samples), timed after one warm-up call and
    repeated until they have taken ``min_seconds`` (one call at least): {items, calls, seconds,
    per_s}."""
    fn()
    synchronize(device)
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        synchronize(device)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
    return {"items": items, "calls": calls, "seconds": elapsed, "per_s": items * calls / elapsed}


def at_precision(extractor, precision):
    """The extractor (same network, not copied) computing in ``precision``, whatever its
    device's default."""
    fixed = copy.copy(extractor)
    kind = type(extractor)
    fixed.__class__ = type(f"{kind.__name__}_{precision}", (kind,), {"precision": precision})
    return fixed


def random_clips(extractor, batch_size, seed=0):
    """A batch of random uint8 clips of the extractor's input size."""
    crop = getattr(extractor, "crop", extractor.frame_size[0])
    return np.random.default_rng(seed).integers(
        0, 255, (batch_size, extractor.clip_len, crop, crop, 3), dtype=np.uint8)


def bench_forward(extractor, batch_sizes, precisions, min_seconds):
    """Clips/s of the bare forward (copy to the device, mean, C3D, copy back) on random clips,
    for each precision and batch size, with the TFLOP/s they mean."""
    flops = forward_flops(extractor)
    rows = []
    for precision in precisions:
        net = at_precision(extractor, precision)
        for batch_size in batch_sizes:
            clips = random_clips(extractor, batch_size)
            figure = measure(lambda: net.features(clips), batch_size, extractor.device,
                             min_seconds)
            rows.append({"precision": precision, "batch_size": batch_size, **figure,
                         "tflops": figure["per_s"] * flops / 1e12})
    return rows


def extract_run(extractor, videos, batch_size, workers, dec, feat, out_dir):
    """One run of the extract stage's work over ``videos``: {clips, seconds, per_s}."""
    failures = []
    synchronize(extractor.device)
    start = time.perf_counter()
    with ShardWriter(out_dir, {"bench": True}, feat["shard_videos"]) as writer:
        clips = extract(videos, extractor, dec["fps"], dec["max_seconds"], feat["stride"],
                        batch_size, on_video=lambda v, f: writer.add(v["id"], v["class"], f),
                        on_error=lambda v, message: failures.append(message), progress=False,
                        workers=workers)
    synchronize(extractor.device)
    seconds = time.perf_counter() - start
    shutil.rmtree(out_dir)
    if failures:
        raise RuntimeError(f"extract failed on {len(failures)} videos: {failures[0]}")
    return {"clips": clips, "seconds": seconds, "per_s": clips / seconds}


def bench_extract(extractor, videos, batch_sizes, workers, forward, dec, feat, tmp):
    """The extract stage against the bare forward at the same batch size (from ``forward``'s
    rows at the extractor's own precision): every batch size at the most workers, then the
    other numbers of workers at the batch size where the stage was fastest."""
    bare = {r["batch_size"]: r["per_s"] for r in forward if r["precision"] == extractor.precision}
    rows = []

    def run(batch_size, n_workers):
        figure = extract_run(extractor, videos, batch_size, n_workers, dec, feat,
                             Path(tmp) / "shards")
        rows.append({"batch_size": batch_size, "workers": n_workers, **figure,
                     "forward_per_s": bare[batch_size],
                     "ratio": figure["per_s"] / bare[batch_size]})

    for batch_size in batch_sizes:
        run(batch_size, max(workers))
    fastest = max(rows, key=lambda r: r["per_s"])["batch_size"]
    for n_workers in sorted(set(workers) - {max(workers)}):
        run(fastest, n_workers)
    best = max(rows, key=lambda r: r["per_s"])
    return {"precision": extractor.precision, "videos": len(videos), "rows": rows,
            "best": {k: best[k] for k in ("batch_size", "workers", "per_s", "ratio")}}


def bench_training(p, batch_sizes, steps, dims, device, min_seconds):
    """HRNN training samples/s per batch size: one step of training's loop (copy of the batch
    to the device, forward under float16 autocast on a GPU, dual loss, scaled backward, Adam)
    on random sequences of ``steps`` x ``dims``, every step real (no padding)."""
    config = TrainConfig.from_params(p, "action2vec")
    cuda = device.type == "cuda"
    rows = []
    with one_cpu_thread(device):
        for batch_size in batch_sizes:
            seed_everything(config.seed)
            model = HRNN(HRNNConfig(input_dim=dims, embed_dim=EMBED_DIM, n_classes=N_CLASSES,
                                    **config.network)).to(device).train()
            optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
            scaler = torch.amp.GradScaler("cuda", enabled=cuda)
            x = torch.randn(batch_size, steps, dims)
            x = x.pin_memory() if cuda else x
            lengths = torch.full((batch_size,), steps)
            labels = torch.randint(0, N_CLASSES, (batch_size,))
            vectors = torch.randn(N_CLASSES, EMBED_DIM, device=device)

            def step():
                with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
                    embeddings, logits = model(x.to(device, non_blocking=True),
                                               lengths.to(device))
                total = dual_loss(embeddings.float(), logits.float(), labels.to(device), vectors,
                                  config.lam, config.reduction)[0]
                optimizer.zero_grad()
                scaler.scale(total).backward()
                scaler.step(optimizer)
                scaler.update()
                total.item()  # as training does, for the epoch's loss

            rows.append({"batch_size": batch_size,
                         **measure(step, batch_size, device, min_seconds)})
    return {"precision": "float16" if cuda else "float32", "steps": steps, "dims": dims,
            "network": config.network, "rows": rows}


def bench_pipeline(device, quick, tmp):
    """Wall time of `dvc repro` of the default pipeline (or QUICK_PIPELINE's) in a copy of the
    project with both devices set, and each stage's share (from its "Running stage" line to the
    next). A failed run keeps its log's tail."""
    changes = copy.deepcopy(QUICK_PIPELINE) if quick else {}
    changes.setdefault("features", {})["device"] = str(device)
    changes.setdefault("train", {})["device"] = str(device)
    repo = new_project(Path(tmp) / "project", changes)
    marks, lines = [], []
    start = time.perf_counter()
    with subprocess.Popen([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=project_env(repo),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as child:
        for line in child.stdout:
            lines.append(line.rstrip())
            stage = re.match(r"Running stage '([^']+)'", line)
            if stage:
                marks.append((stage.group(1), time.perf_counter() - start))
    seconds = time.perf_counter() - start
    ends = [t for _, t in marks[1:]] + [seconds]
    result = {"seconds": seconds, "returncode": child.returncode,
              "stages": [{"stage": name, "seconds": end - begin}
                         for (name, begin), end in zip(marks, ends)],
              "changes": changes}
    if child.returncode != 0:
        result["log_tail"] = lines[-30:]
    return result


def machine(device):
    gpu = device.type == "cuda"
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if gpu else None,
            "gpu": torch.cuda.get_device_name(device) if gpu else None,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32}


def figures(results):
    """The figures as text tables, one per part measured."""
    parts = []
    if "forward" in results:
        parts.append("C3D bare forward\n" + table(
            [(r["precision"], r["batch_size"], r["per_s"], r["tflops"])
             for r in results["forward"]], ["precision", "batch", "clips/s", "TFLOP/s"],
            digits=2))
    if "extract" in results:
        e = results["extract"]
        best = e["best"]
        parts.append(f"extract stage ({e['videos']} videos, {e['precision']}) / bare forward\n"
                     + table([(r["batch_size"], r["workers"], r["per_s"], r["forward_per_s"],
                               r["ratio"]) for r in e["rows"]],
                             ["batch", "workers", "extract clips/s", "forward clips/s",
                              "ratio"], digits=2)
                     + f"\nbest: batch {best['batch_size']}, {best['workers']} workers: "
                       f"{best['per_s']:.2f} clips/s, ratio {best['ratio']:.3f}")
    if "training" in results:
        t = results["training"]
        parts.append(f"HRNN training ({t['steps']} x {t['dims']}, {t['precision']})\n"
                     + table([(r["batch_size"], r["per_s"]) for r in t["rows"]],
                             ["batch", "samples/s"], digits=1))
    if "pipeline" in results:
        pipe = results["pipeline"]
        status = "ok" if pipe["returncode"] == 0 else f"FAILED ({pipe['returncode']})"
        parts.append(f"dvc repro: {pipe['seconds']:.1f} s, {status}\n" + table(
            [(s["stage"], s["seconds"]) for s in pipe["stages"]], ["stage", "seconds"],
            digits=1))
    return "\n\n".join(parts)


def save(results, out):
    """Write the results so far (a later part failing keeps the earlier ones)."""
    with atomic(out) as tmp:
        Path(tmp).write_text(json.dumps(results, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--out", default=str(ROOT / "bench" / "gpu.json"))
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that it runs")
    parser.add_argument("--skip-pipeline", action="store_true", help="leave out the dvc repro")
    args = parser.parse_args()
    device = check_device(args.device)
    sizes = SIZES["quick" if args.quick else "full"]
    p = params.read(ROOT / "params.yaml")  # the whole validated file: this is not a stage
    feat, dec = p["features"], p["decode"]  # stride, shard size; fps, clip length
    precisions = ["float16", "float32"] if device.type == "cuda" else ["float32"]
    results = {"machine": machine(device), "device": str(device), "quick": args.quick,
               "sizes": sizes}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        print("C3D forward ...", flush=True)
        # random weights: a weights file changes the figures, not the speed
        extractor = make_extractor("c3d", "fc7", None, p["seed"], device)
        results["forward"] = bench_forward(extractor, sizes["batch_sizes"], precisions,
                                           sizes["min_seconds"])
        save(results, args.out)
        print("extract stage ...", flush=True)
        seconds = sizes.get("video_seconds", dec["max_seconds"])
        files = [encode(Path(tmp) / f"v{i}.mp4", seconds) for i in range(sizes["files"])]
        videos = [{"path": str(files[i % len(files)]), "id": f"v{i}", "class": "x"}
                  for i in range(sizes["videos"])]
        results["extract"] = bench_extract(extractor, videos, sizes["batch_sizes"],
                                           sizes["workers"], results["forward"], dec, feat, tmp)
        results["extract"]["video_seconds"] = seconds
        save(results, args.out)
        del extractor
        print("HRNN training ...", flush=True)
        results["training"] = bench_training(p, sizes["train_batch_sizes"],
                                             p["sequence"]["steps"], PAPER_DIMS, device,
                                             sizes["min_seconds"])
        save(results, args.out)
        if not args.skip_pipeline:
            print("dvc repro in a copy of the project ...", flush=True)
            results["pipeline"] = bench_pipeline(device, args.quick, tmp)
    results["seconds"] = time.perf_counter() - start
    save(results, args.out)
    print(figures(results))
    print(f"written to {args.out}")
    if results.get("pipeline", {}).get("returncode", 0) != 0:
        print("\n".join(results["pipeline"]["log_tail"]), file=sys.stderr)
        raise SystemExit("error: dvc repro failed (its log's end is above)")


if __name__ == "__main__":
    main()
