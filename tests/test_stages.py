"""Stages run as users run them (python stages/X.py from the project root) on bad inputs."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from action2vec.shards import iter_videos

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


def extraction_project(tmp_path, video_file, n_videos):
    """A project whose decode output lists ``n_videos`` real videos, one feature shard each."""
    videos = project(tmp_path, features={"shard_videos": 1})
    rows = []
    for i in range(n_videos):
        path = videos / f"v{i}.mp4"
        path.write_bytes(video_file(f"src{i}.mp4", n_frames=20 + 4 * i).read_bytes())
        rows.append({"id": f"v{i}", "path": str(path), "class": "roll ball", "status": "ok"})
    table = tmp_path / "data" / "decode" / "videos.csv"
    table.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(table, index=False)
    return table


def extracted(tmp_path):
    return {video: (label, features) for video, label, features in
            iter_videos(tmp_path / "data" / "features")}


def twin_projects(tmp_path, video_file, n_videos, *names):
    """Projects listing the same real videos, to run one extraction two ways."""
    roots = [tmp_path / name for name in names]
    for root in roots:
        root.mkdir()
        extraction_project(root, video_file, n_videos)
    return roots


def test_killed_extraction_resumes_and_matches_an_uninterrupted_run(tmp_path, video_file):
    whole, killed = twin_projects(tmp_path, video_file, 6, "whole", "killed")
    assert run_stage(whole, "extract").returncode == 0
    with open(killed / "log", "w") as log:
        job = subprocess.Popen([sys.executable, str(ROOT / "stages" / "extract.py")], cwd=killed,
                               stdout=log, stderr=log)
        shards = killed / "data" / "features"
        while job.poll() is None and len(list(shards.glob("shard-*.h5"))) < 2:
            time.sleep(0.02)
        job.send_signal(signal.SIGKILL)
        job.wait()
    assert job.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    kept = len(list(shards.glob("shard-*.h5")))
    assert 2 <= kept < 6
    done = run_stage(killed, "extract")
    assert done.returncode == 0, done.stderr
    assert f"{kept} videos already extracted, {6 - kept} to do" in done.stderr
    want, got = extracted(whole), extracted(killed)
    assert sorted(got) == sorted(want)
    for video, (label, features) in want.items():
        assert got[video][0] == label
        np.testing.assert_allclose(got[video][1], features, rtol=1e-5, atol=1e-5)


def test_extraction_is_incremental_when_videos_are_added_or_removed(tmp_path, video_file):
    table = extraction_project(tmp_path, video_file, 4)
    assert run_stage(tmp_path, "extract").returncode == 0
    first = extracted(tmp_path)
    rows = pd.read_csv(table)
    (tmp_path / "more").mkdir()
    extraction_project(tmp_path / "more", video_file, 6)  # two more real videos
    more = pd.read_csv(tmp_path / "more" / "data" / "decode" / "videos.csv").iloc[4:]
    pd.concat([rows, more]).to_csv(table, index=False)
    done = run_stage(tmp_path, "extract")
    assert "4 videos already extracted, 2 to do" in done.stderr
    assert "from 2 videos into 2 new shards" in done.stderr
    after = extracted(tmp_path)
    assert sorted(after) == [f"v{i}" for i in range(6)]
    for video in first:
        np.testing.assert_array_equal(after[video][1], first[video][1])  # kept, not redone
    pd.concat([rows, more]).iloc[1:].to_csv(table, index=False)  # v0 is gone from the dataset
    done = run_stage(tmp_path, "extract")
    assert "5 videos already extracted, 0 to do" in done.stderr
    assert sorted(extracted(tmp_path)) == [f"v{i}" for i in range(1, 6)]


def test_extraction_under_torchrun_writes_the_single_process_shards(tmp_path, video_file):
    one, two = twin_projects(tmp_path, video_file, 5, "one", "two")
    assert run_stage(one, "extract").returncode == 0
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", str(ROOT / "stages" / "extract.py")],
                          cwd=two, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "0 videos already extracted, 5 to do in 5 shards on 2 process(es)" in done.stderr
    names = sorted(p.name for p in (one / "data" / "features").glob("shard-*.h5"))
    assert names == sorted(p.name for p in (two / "data" / "features").glob("shard-*.h5"))
    assert len(names) == 5
    want, got = extracted(one), extracted(two)
    assert list(got) == list(want)  # same videos in the same shards, in the same order
    for video, (label, features) in want.items():
        assert got[video][0] == label
        np.testing.assert_allclose(got[video][1], features, rtol=1e-5, atol=1e-5)
    assert (two / "data" / "features" / "failed.csv").is_file()
