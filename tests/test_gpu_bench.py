"""bench/gpu.py runs end to end on a CPU (--quick, without the dvc repro), its rates and ratios
follow from its own measured counts and times, and --device cuda without a GPU is one clear
error."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # the benchmark script's process
SCRIPT = ROOT / "bench" / "gpu.py"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu") / "gpu.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--quick",
                           "--skip-pipeline", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text()), done.stdout


def close(a, b):
    return a == pytest.approx(b, rel=1e-9)


def test_rates_are_counts_over_measured_seconds(quick):
    results, _ = quick
    forward, training = results["forward"], results["training"]["rows"]
    assert [(r["precision"], r["batch_size"]) for r in forward] == [("float32", 1),
                                                                    ("float32", 2)]
    assert [r["batch_size"] for r in training] == [1, 2]
    assert (results["training"]["steps"], results["training"]["dims"]) == (52, 500)
    for row in forward + training:
        assert row["calls"] >= 1 and row["seconds"] > 0 and row["items"] == row["batch_size"]
        assert close(row["per_s"], row["items"] * row["calls"] / row["seconds"])
    per_clip = [r["tflops"] / r["per_s"] for r in forward]  # C3D fc7: 77.1 GFLOP a clip
    assert all(0.0770 < f < 0.0772 for f in per_clip)


def test_extract_ratio_is_stage_over_bare_forward_at_the_same_batch(quick):
    results, stdout = quick
    extract = results["extract"]
    bare = {r["batch_size"]: r["per_s"] for r in results["forward"]}
    rows = extract["rows"]
    # every batch size at the most workers, then the other workers at the fastest batch size
    fastest = max(rows[:2], key=lambda r: r["per_s"])["batch_size"]
    assert [(r["batch_size"], r["workers"]) for r in rows] == [(1, 2), (2, 2), (fastest, 1)]
    for row in rows:
        assert row["clips"] == 2  # 0.6 s at 30 fps, 18 frames: clips at 0 and 8 (padded)
        assert close(row["per_s"], row["clips"] / row["seconds"])
        assert row["forward_per_s"] == bare[row["batch_size"]]
        assert close(row["ratio"], row["per_s"] / bare[row["batch_size"]])
    best = max(rows, key=lambda r: r["per_s"])
    assert extract["best"] == {k: best[k] for k in ("batch_size", "workers", "per_s", "ratio")}
    assert f"ratio {best['ratio']:.3f}" in stdout
    assert "pipeline" not in results


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")
def test_cuda_without_a_gpu_is_one_clear_error(tmp_path):
    out = tmp_path / "gpu.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cuda", "--quick",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        done.stderr.strip()] and "error: --device cuda: no GPU is visible" in done.stderr
    assert not out.exists()
