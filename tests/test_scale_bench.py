"""bench/scale.py runs the real stages end to end on tiny synthetic projects, deletes them, and
the growth exponents and extrapolations it writes and prints follow from the per-size figures it
measured (worked out here again, independently)."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # the benchmark script's process
STAGES = ["splits", "pca", "sequence", "train", "baseline", "evaluate"]
TARGETS = {"UCF101": 13_320, "Kinetics-400": 240_000}


def slope(points):
    """Least-squares slope of log y against log x, from the normal equations."""
    xs, ys = [math.log(x) for x, _ in points], [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return (sum((x - mx) * (y - my) for x, y in zip(xs, ys))
            / sum((x - mx) ** 2 for x in xs))


def test_scale_bench_runs_every_stage_and_its_figures_follow_from_the_measurements(tmp_path):
    out, work = tmp_path / "scale.json", tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--sizes", "60,120",
                           "--classes", "8", "--raw-dim", "64", "--dims", "16",
                           "--baseline-max", "60", "--out", str(out), "--workdir", str(work)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(work.iterdir()) == []  # every temporary project deleted
    results = json.loads(out.read_text())
    sizes = results["sizes"]
    assert list(sizes) == ["60", "120"]
    for n, figures in sizes.items():
        ran = STAGES if n == "60" else [s for s in STAGES if s != "baseline"]
        assert list(figures["stages"]) == ran
        for stage in ran:
            assert figures["stages"][stage]["seconds"] > 0
            assert figures["stages"][stage]["peak_mb"] > 5  # a Python process at least
        assert figures["disk_peak_mb"] > 0 and figures["clips"] >= int(n)
    # the stage's own memory, not the benchmark's (about 300 MB, which a process forked from
    # it starts with): the splits stage needs under 100 MB
    assert sizes["60"]["stages"]["splits"]["peak_mb"] < 150
    lines = done.stdout.splitlines()
    growth_rows = {line.split()[0]: line.split()[1:]
                   for line in lines[lines.index(next(l for l in lines if "time exp" in l)) + 1:]
                   if line.split()[0] in STAGES}
    for stage in STAGES:
        grown = results["growth"][stage]
        if stage == "baseline":  # one size: no exponent, no extrapolation
            assert grown["time_exponent"] is None and grown["UCF101"]["seconds"] is None
            assert growth_rows[stage] == ["-"] * 8
            continue
        for figure, exponent in (("seconds", "time_exponent"), ("peak_mb", "memory_exponent")):
            points = [(int(n), sizes[n]["stages"][stage][figure]) for n in sizes]
            b = slope(points)
            assert grown[exponent] == pytest.approx(b, rel=1e-9, abs=1e-12)
            assert grown[exponent + "_last"] == pytest.approx(b, rel=1e-9, abs=1e-12)
            (n1, y1), (n2, y2) = points
            assert b == pytest.approx(math.log(y2 / y1) / math.log(n2 / n1))  # two points
            for target, n in TARGETS.items():
                assert grown[target][figure] == pytest.approx(y2 * (n / n2) ** b, rel=1e-9)
        printed = growth_rows[stage]
        assert printed[:4] == [f"{grown[k]:.2f}" for k in (
            "time_exponent", "time_exponent_last", "memory_exponent", "memory_exponent_last")]
        assert printed[4:] == [f"{grown[t][f]:.2f}" for t in TARGETS
                               for f in ("seconds", "peak_mb")]


def test_growth_interpolates_between_sizes_and_extends_the_last_slope_beyond():
    """Three sizes, figures made up: the exponent is the least-squares slope over all three,
    UCF101 (13,320) lies between 10,000 and 50,000, Kinetics-400 beyond 50,000."""
    scale = load_bench()
    seconds, peak = [2.0, 11.0, 80.0], [300.0, 310.0, 900.0]
    results = {n: {"stages": {"pca": {"seconds": s, "peak_mb": m}}}
               for n, s, m in zip((1000, 10_000, 50_000), seconds, peak)}
    grown = scale.growth(results)["pca"]
    assert grown["sizes"] == [1000, 10_000, 50_000]
    for values, name in ((seconds, "time"), (peak, "memory")):
        points = list(zip((1000, 10_000, 50_000), values))
        assert grown[f"{name}_exponent"] == pytest.approx(slope(points), rel=1e-9)
        last = math.log(values[2] / values[1]) / math.log(5)
        assert grown[f"{name}_exponent_last"] == pytest.approx(last, rel=1e-9)
        figure = "seconds" if name == "time" else "peak_mb"
        assert grown["UCF101"][figure] == pytest.approx(values[1] * 1.332 ** last, rel=1e-9)
        assert grown["Kinetics-400"][figure] == pytest.approx(values[2] * 4.8 ** last, rel=1e-9)
    first = math.log(11 / 2) / math.log(10)
    assert scale.through([1000, 10_000, 50_000], seconds, 500) == pytest.approx(
        2 * 0.5 ** first, rel=1e-9)
    assert scale.growth({1000: results[1000]})["pca"]["time_exponent"] is None


def load_bench():
    spec = importlib.util.spec_from_file_location("scale", ROOT / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
