"""bench/run.py runs end to end (tiny settings) and writes every figure, and the figures that are
arithmetic on measured ones (the fp32 ceiling, the computed peak, the decode work of a set of
videos) follow from them; the measured figures themselves are the benchmark's business, not the
tests'."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # the benchmark script's process, and the shared pipeline's copy
def test_bench_writes_every_figure(tmp_path, project_copy):
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--out", str(out),
                           "--quick", "--project", str(project_copy)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["extract"]["clips"] == 3  # 30 frames: clips at 0, 8 and 16 (padded)
    c = results["ceiling"]
    for figure in (results["decode"]["project_fps"], results["decode"]["decord_fps"],
                   results["extract"]["pipeline_clips_per_s"], c["gflops"],
                   results["forward_gflops"], results["pca"]["fit_samples_per_s"],
                   results["sequence"]["videos_per_s"],
                   results["training"]["train_samples_per_s"],
                   results["workers"]["serial_s"], results["workers"]["parallel_s"],
                   results["repro"]["noop_s"],
                   results["memory_mb"]["short"], results["memory_mb"]["long"]):
        assert figure > 0
    assert results["workers"]["trainings"] == 7
    assert c["gflops"] == max(c["kernels"].values())
    assert sum(k.startswith("conv3d ") for k in c["kernels"]) == 8  # C3D's 3-D convolutions
    assert c["forward_fraction"] == results["forward_gflops"] / c["gflops"]
    assert "overhead (bare / stage)" in done.stdout and "forward / ceiling" in done.stdout
    work = results["decode_work"]["videos"]  # (probe + decode) / decode: H.264, AVI, rendered
    assert sorted(work)[:2] == ["1s.avi", "1s.mp4"]
    assert [name.split("-")[1] for name in sorted(work)[2:]] == ["roll_ball", "roll_ring"]
    assert all(v["work"] > 1 for v in work.values())
    rendered = [v for name, v in work.items() if name.startswith("rendered-")]
    assert results["decode_work"]["rendered"] == pytest.approx(
        sum(v["probe_s"] + v["decode_s"] for v in rendered) / sum(v["decode_s"] for v in rendered))
    peak = c["computed_peak"]  # cores x clock x fp32 operations per cycle (2 FMA units)
    if peak and peak["gflops"]:
        per_cycle = {"avx512f": 64, "avx2": 32, "sse": 8}[peak["vector"]]
        assert peak["gflops"] == pytest.approx(peak["cores"] * peak["mhz"] / 1000 * per_cycle)
    assert "decode work per video, 1s.avi ((probe + decode) / decode)" in done.stdout
