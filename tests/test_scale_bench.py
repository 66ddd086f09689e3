"""bench/scale.py runs the real stages end to end on tiny synthetic projects, deletes them, and
the growth exponents and extrapolations it writes and prints follow from the per-size figures it
measured (worked out here again, independently): on log-log and straight lines, pca's memory no
further than its sample cap."""

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
                           "--out", str(out), "--workdir", str(work)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(work.iterdir()) == []  # every temporary project deleted
    results = json.loads(out.read_text())
    sizes = results["sizes"]
    assert list(sizes) == ["60", "120"]
    for n, figures in sizes.items():
        assert list(figures["stages"]) == STAGES  # the baseline too, at every size
        for stage in STAGES:
            assert figures["stages"][stage]["seconds"] > 0
            assert figures["stages"][stage]["peak_mb"] > 5  # a Python process at least
        assert figures["disk_peak_mb"] > 0 and figures["clips"] >= int(n)
    # the stage's own memory, not the benchmark's (about 300 MB, which a process forked from
    # it starts with): the splits stage needs under 100 MB
    assert sizes["60"]["stages"]["splits"]["peak_mb"] < 150
    lines = done.stdout.splitlines()
    first = lines.index(next(line for line in lines if "time exp" in line)) + 1
    last = lines.index(next(line for line in lines if "at the targets" in line))
    growth_rows = {line.split()[0]: line.split()[1:] for line in lines[first:last]
                   if line.split()[0] in STAGES}
    memory_rows = {line.split()[0]: line.split()[1:] for line in lines[last + 1:]
                   if line.split() and line.split()[0] in STAGES}
    cap = results["settings"]["params"]["pca"]["max_fit_samples"]
    cap_videos = cap * 120 / sizes["120"]["clips"]  # far beyond 120 videos of about 12 clips
    for stage in STAGES:
        grown = results["growth"][stage]
        for figure, exponent in (("seconds", "time_exponent"), ("peak_mb", "memory_exponent")):
            points = [(int(n), sizes[n]["stages"][stage][figure]) for n in sizes]
            b = slope(points)
            assert grown[exponent] == pytest.approx(b, rel=1e-9, abs=1e-12)
            assert grown[exponent + "_last"] == pytest.approx(b, rel=1e-9, abs=1e-12)
            (n1, y1), (n2, y2) = points
            assert b == pytest.approx(math.log(y2 / y1) / math.log(n2 / n1))  # two points
            for target, n in TARGETS.items():
                if stage == "pca" and figure == "peak_mb":  # no further than the cap
                    n = min(n, cap_videos)
                assert grown[target][figure] == pytest.approx(y2 * (n / n2) ** b, rel=1e-9)
                if figure == "peak_mb":  # and on the straight line through both sizes
                    assert grown[target]["peak_mb_linear"] == pytest.approx(
                        y1 + (y2 - y1) * (n - n1) / (n2 - n1), rel=1e-9)
        printed = growth_rows[stage]
        assert printed[:4] == [f"{grown[k]:.2f}" for k in (
            "time_exponent", "time_exponent_last", "memory_exponent", "memory_exponent_last")]
        assert printed[4:] == [f"{grown[t][f]:.2f}" for t in TARGETS
                               for f in ("seconds", "peak_mb")]
        assert memory_rows[stage] == [f"{grown[t][f]:.0f}" for t in TARGETS
                                      for f in ("peak_mb", "peak_mb_linear")]
    assert results["growth"]["pca"]["cap"] == {
        "max_fit_samples": cap, "videos": pytest.approx(cap_videos, rel=1e-12),
        "basis": "computed at the cap",
        "note": "memory independent of N once past the sample cap: figure at the cap"}
    assert ("pca: memory independent of N once past the sample cap: figure at the cap"
            in done.stdout and "computed at the cap" in done.stdout)
    # 8 classes: the baseline trains on some 30 to 60 videos, every one a landmark
    landmarks = results["settings"]["params"]["baseline"]["landmarks"]
    assert all(0 < sizes[n]["training_videos"] < int(n) for n in sizes)
    assert results["growth"]["baseline"]["landmarks"] == {
        "landmarks": landmarks, "basis": "not past the landmarks",
        "videos": pytest.approx(landmarks * 120 / sizes["120"]["training_videos"], rel=1e-12)}
    assert "the two largest sizes are not past the landmarks" in done.stdout


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


def test_pca_memory_beyond_its_cap_is_the_figure_at_the_cap_or_the_one_measured_past_it():
    """Made-up figures, 12 clips per video. A cap of 60,000 clips (5,000 videos) lies between
    the sizes: measured past it, a target beyond it gets the 10,000-video figure. A cap of
    600,000 clips (50,000 videos) lies beyond them: a target past 50,000 videos gets the figure
    at 50,000 on each line; UCF101 (13,320 videos) lies below that cap."""
    scale = load_bench()
    peak = [300.0, 1200.0]
    results = {n: {"clips": 12 * n, "stages": {"pca": {"seconds": 1.0, "peak_mb": m}}}
               for n, m in zip((1000, 10_000), peak)}
    exponent = math.log(4) / math.log(10)
    past = scale.growth(results, cap=60_000)["pca"]
    assert past["cap"]["basis"] == "measured past the cap"
    assert past["cap"]["videos"] == pytest.approx(5000)
    for target, n in TARGETS.items():
        assert past[target]["peak_mb"] == past[target]["peak_mb_linear"] == 1200
        assert past[target]["peak_mb_uncapped"] == pytest.approx(1200 * (n / 10_000) ** exponent)
    at = scale.growth(results, cap=600_000)["pca"]
    assert at["cap"]["basis"] == "computed at the cap"
    assert at["cap"]["videos"] == pytest.approx(50_000)
    assert at["Kinetics-400"]["peak_mb"] == pytest.approx(1200 * 5 ** exponent)
    assert at["Kinetics-400"]["peak_mb_linear"] == pytest.approx(1200 + 900 / 9000 * 40_000)
    assert at["Kinetics-400"]["peak_mb_uncapped"] == pytest.approx(1200 * 24 ** exponent)
    assert at["UCF101"]["peak_mb"] == pytest.approx(1200 * 1.332 ** exponent)
    assert at["UCF101"]["peak_mb_linear"] == pytest.approx(1200 + 900 / 9000 * 3320)


def test_the_baseline_says_whether_both_largest_sizes_are_past_its_landmarks():
    """Made-up training videos, half the videos: 2000 landmarks are reached at 4000 videos."""
    scale = load_bench()
    results = {n: {"training_videos": n // 2,
                   "stages": {"baseline": {"seconds": 1.0, "peak_mb": 300.0 + n / 100}}}
               for n in (1000, 5000, 8000)}
    grown = scale.growth(results, landmarks=2000)["baseline"]
    assert grown["landmarks"] == {"landmarks": 2000, "videos": pytest.approx(4000),
                                  "basis": "past the landmarks"}
    del results[8000]
    assert scale.growth(results, landmarks=2000)["baseline"]["landmarks"]["basis"] == (
        "not past the landmarks")
    assert scale.growth(results)["baseline"].get("landmarks") is None


def load_bench():
    spec = importlib.util.spec_from_file_location("scale", ROOT / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
