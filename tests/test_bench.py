"""bench/run.py runs end to end (tiny settings) and writes every figure, and the figures that are
arithmetic on measured ones (the fp32 ceiling, the computed peak, the decode work of a set of
videos) follow from them; the measured figures themselves are the benchmark's business, not the
tests'."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import (bench_ceiling, ceiling, computed_peak, decode_work_of,  # noqa: E402
                       fma_peak, matmul_kernels)


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
    assert "decode work per video, 1s.avi ((probe + decode) / decode)" in done.stdout


def test_the_ceiling_is_the_fastest_kernel_measured():
    rates = matmul_kernels(torch.device("cpu"), sizes=(64, 128), batch=(4, 32))
    assert sorted(rates) == ["batched matmul 4x32x32", "matmul 128x128", "matmul 64x64"]
    kernel, gflops = ceiling(rates)
    assert gflops == max(rates.values()) and rates[kernel] == gflops
    assert ceiling({"a": 1.0, "b": 3.0, "c": 2.0}) == ("b", 3.0)


@pytest.mark.slow  # C3D's forward and each of its convolutions, at batch 1
def test_the_forward_is_a_fraction_of_the_ceiling_measured_with_its_own_convolutions():
    from action2vec.extractors import make_extractor

    extractor = make_extractor("c3d", "fc7", None, 0, "cpu")
    figures = bench_ceiling(extractor, 1, 10.0, torch.device("cpu"))
    convs = {k: v for k, v in figures["kernels"].items() if k.startswith("conv3d ")}
    assert list(convs)[0] == "conv3d conv1 1x3x16x112x112"  # the clip's own shape
    assert len(convs) == 8
    assert figures["gflops"] == max(figures["kernels"].values())
    assert figures["forward_fraction"] == 10.0 / figures["gflops"]


def test_the_fma_peak_is_cores_times_clock_times_the_vector_width():
    avx512 = {"fma", "avx2", "avx512f"}
    assert fma_peak(avx512, 2100.0, 2) == 2 * 2.1 * 64  # 2 FMA units x 16 lanes x 2
    assert fma_peak({"fma", "avx2"}, 2450.0, 2) == 2 * 2.45 * 32  # 2 FMA units x 8 lanes x 2
    assert fma_peak({"sse2"}, 3000.0, 4) is None


def test_the_computed_peak_reads_flags_and_clock_of_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2450.000\n"
                    "flags\t\t: fpu sse2 avx fma avx2\n\nprocessor\t: 1\n")
    peak = computed_peak(info)
    assert (peak["mhz"], peak["vector"], peak["fma"]) == (2450.0, "avx2", True)
    assert peak["gflops"] == fma_peak({"fma", "avx2"}, 2450.0, peak["cores"])
    assert computed_peak(tmp_path / "missing") is None


def test_the_decode_work_of_a_set_of_videos_sums_their_times():
    work = {"videos": {"rendered-a.mp4": {"probe_s": 1.0, "decode_s": 4.0},
                       "rendered-b.mp4": {"probe_s": 2.0, "decode_s": 16.0},
                       "long.mp4": {"probe_s": 9.0, "decode_s": 1.0}}}
    assert decode_work_of(work, "rendered-") == (1 + 4 + 2 + 16) / (4 + 16)
