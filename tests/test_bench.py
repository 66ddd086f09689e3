"""bench/run.py runs end to end (tiny settings) and writes every figure; the figures themselves
are the benchmark's business, not the tests'."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # the benchmark script's process


def test_bench_writes_every_figure(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--out", str(out),
                           "--quick"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["extract"]["clips"] == 3  # 30 frames: clips at 0, 8 and 16 (padded)
    for figure in (results["decode"]["project_fps"], results["decode"]["decord_fps"],
                   results["extract"]["pipeline_clips_per_s"], results["matmul_gflops"],
                   results["forward_gflops"], results["pca"]["fit_samples_per_s"],
                   results["sequence"]["videos_per_s"],
                   results["training"]["train_samples_per_s"],
                   results["memory_mb"]["short"], results["memory_mb"]["long"]):
        assert figure > 0
    assert "overhead (bare / stage)" in done.stdout
    work = results["decode_work"]["videos"]  # (probe + decode) / decode: H.264, AVI, rendered
    assert sorted(work) == ["1s.avi", "1s.mp4", "rendered-40f-160x120.mp4"]
    assert all(v["work"] > 1 for v in work.values())
    assert "decode work per video, 1s.avi ((probe + decode) / decode)" in done.stdout
