"""Stages run as users run them (python stages/X.py from the project root) on bad inputs."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from conftest import kinetics_layout

ROOT = Path(__file__).resolve().parents[1]


def run_stage(cwd, name):
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py")], cwd=cwd,
                          capture_output=True, text=True)


def project(tmp_path, **changes):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in changes.items():
        params[section].update(values)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    videos = tmp_path / "data" / "videos"
    videos.mkdir(parents=True)
    return videos


def test_decode_rejects_bad_files_and_keeps_the_good(tmp_path, video_file):
    videos = project(tmp_path)
    good = video_file("good.mp4", n_frames=20)
    (videos / "good.mp4").write_bytes(good.read_bytes())
    (videos / "cut.mp4").write_bytes(good.read_bytes()[:300])
    (videos / "text.mp4").write_text("hello")
    (videos / "index.csv").write_text("path,class\ngood.mp4,roll ball\ncut.mp4,roll ball\n"
                                      "text.mp4,drop box\n")
    done = run_stage(tmp_path, "decode")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "data/decode/videos.csv")
    assert table.set_index("id").status.to_dict() == {"cut": "rejected", "good": "ok",
                                                      "text": "rejected"}
    rejected = pd.read_csv(tmp_path / "data/decode/rejected.csv")
    assert sorted(rejected.id) == ["cut", "text"] and rejected.reason.str.len().min() > 0
    assert "rejected" in done.stderr and "cut.mp4" in done.stderr


def test_decode_with_nothing_readable_stops_with_a_clear_error(tmp_path):
    videos = project(tmp_path)
    (videos / "a.mp4").write_text("not a video")
    (videos / "index.csv").write_text("path,class\na.mp4,roll ball\n")
    done = run_stage(tmp_path, "decode")
    assert done.returncode == 1
    assert "error: none of the 1 videos" in done.stderr and "Traceback" not in done.stderr


def test_labels_stage_names_a_class_word_missing_from_the_vectors(tmp_path):
    project(tmp_path)
    decode = tmp_path / "data" / "decode"
    decode.mkdir(parents=True)
    pd.DataFrame({"class": ["roll ball", "zorp box"], "status": ["ok", "ok"]}).to_csv(
        decode / "videos.csv", index=False)
    done = run_stage(tmp_path, "labels")
    assert done.returncode == 1
    assert "class 'zorp box': word 'zorp' is not in the word vectors" in done.stderr


def test_a_stage_refuses_invalid_params_before_any_work(tmp_path):
    project(tmp_path, pca={"dims": 9000})
    done = run_stage(tmp_path, "decode")
    assert done.returncode == 1 and "pca.dims: 9000 is more than" in done.stderr
    assert not (tmp_path / "data" / "decode").exists()


def test_kinetics400_missing_clips_are_counted_and_listed_by_decode(tmp_path, video_file):
    data = tmp_path / "kinetics"
    kinetics_layout(data, video_file)
    (tmp_path / "params.yaml").write_text(
        (ROOT / "params.yaml").read_text().replace("name: embedded", "name: kinetics400")
        .replace("root: data/videos", f"root: {data}"))
    result = run_stage(tmp_path, "decode")
    assert result.returncode == 0, result.stderr
    assert "2 rejected: FileNotFoundError: missing file" in result.stderr
    table = pd.read_csv(tmp_path / "data/decode/videos.csv")
    assert (table.status == "ok").sum() == 3
    rejected = pd.read_csv(tmp_path / "data/decode/rejected.csv")
    assert sorted(rejected["id"]) == ["gone2_000003_000013", "gone_000001_000011"]
