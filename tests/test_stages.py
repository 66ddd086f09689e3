"""Stages run as users run them (python stages/X.py from the project root) on bad inputs: in
this process (conftest.run_stage), but where the process itself is the property (kill -9 and
resume, torchrun, a full disk)."""

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from action2vec.labels import write_classes
from action2vec.leakage_report import write_leakage
from action2vec.paths import (CLASSES, DECODE, DECODED, FEATURES, LEAKAGE, PCA_REPORT,
                              PROTOCOL_REPORT, SPLITS, ZSL_REPORT, projection_file)
from action2vec.shards import ShardWriter, iter_videos, read_content, shard_paths
from action2vec import video as video_module
from action2vec.video import clip_starts, file_identity

from conftest import (ROOT, cut_after, damage_shard, encode, faststart, fill, kinetics_layout,
                      moving_bar, overwritten, run_stage, run_stage_ok, stage_project)
from project import set_params


def stage_process(cwd, name):
    """``python stages/NAME.py`` in ``cwd``, as a process of its own."""
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py")], cwd=cwd,
                          capture_output=True, text=True)


def test_decode_rejects_bad_files_and_keeps_the_good(tmp_path, video_file):
    videos = stage_project(tmp_path)
    good = video_file("good.mp4", n_frames=20)
    (videos / "good.mp4").write_bytes(good.read_bytes())
    (videos / "cut.mp4").write_bytes(good.read_bytes()[:300])
    (videos / "text.mp4").write_text("hello")
    (videos / "index.csv").write_text("path,class\ngood.mp4,roll ball\ncut.mp4,roll ball\n"
                                      "text.mp4,drop box\n")
    done = run_stage(tmp_path, "decode")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "data/decode/videos.csv")
    assert table.set_index("id").status.to_dict() == {"cut.mp4": "rejected", "good.mp4": "ok",
                                                      "text.mp4": "rejected"}
    rejected = pd.read_csv(tmp_path / "data/decode/rejected.csv").set_index("id")
    assert rejected.reason.to_dict() == {
        "cut.mp4": "truncated: the file is shorter than its container says",
        "text.mp4": "not a video container"}
    assert "rejected" in done.stderr and "cut.mp4" in done.stderr
    assert "class drop box: all 1 videos rejected; it is left out" in done.stderr
    assert "class roll ball" not in done.stderr


def test_decode_reads_absolute_paths_and_counts_reasons_by_kind(tmp_path, video_file):
    videos = stage_project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    good = video_file("good.mp4", n_frames=20).read_bytes()
    for i, n in enumerate((0.5, 0.7)):
        avi = video_file(f"src{i}.avi", n_frames=60).read_bytes()
        (videos / f"short{i}.avi").write_bytes(avi[:int(len(avi) * n)])
    (videos / "good.mp4").write_bytes(good)
    (outside / "good.mp4").write_bytes(good)
    (videos / "index.csv").write_text(f"path,class\n{videos}/good.mp4,roll ball\n"
                                      f"{outside}/good.mp4,roll ball\n"
                                      f"{videos}/short0.avi,drop box\n"
                                      f"{videos}/short1.avi,drop box\n")
    done = run_stage(tmp_path, "decode")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "data/decode/videos.csv").set_index("id")
    assert table.status.to_dict() == {"good.mp4": "ok", f"{outside}/good.mp4": "rejected",
                                      "short0.avi": "rejected", "short1.avi": "rejected"}
    assert "2 rejected: truncated\n" in done.stderr
    assert "1 rejected: outside dataset.root\n" in done.stderr  # DVC would not see it change


def test_decode_with_nothing_readable_stops_with_a_clear_error(tmp_path):
    videos = stage_project(tmp_path)
    (videos / "a.mp4").write_text("not a video")
    (videos / "index.csv").write_text("path,class\na.mp4,roll ball\n")
    done = run_stage(tmp_path, "decode")
    assert done.returncode == 1
    assert "error: none of the 1 videos" in done.stderr and "Traceback" not in done.stderr


def test_an_empty_class_cell_stops_decode_with_one_line_naming_the_line(tmp_path):
    videos = stage_project(tmp_path)
    (videos / "index.csv").write_text("path,class\na.mp4,roll ball\nb.mp4,\n")
    done = run_stage(tmp_path, "decode")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().endswith("data/videos/index.csv:3: empty class")


def test_labels_stage_names_a_class_word_missing_from_the_vectors(tmp_path):
    stage_project(tmp_path)
    decode = tmp_path / "data" / "decode"
    decode.mkdir(parents=True)
    pd.DataFrame({"class": ["roll ball", "zorp box"], "status": ["ok", "ok"]}).to_csv(
        decode / "videos.csv", index=False)
    done = run_stage(tmp_path, "labels")
    assert done.returncode == 1
    assert "class 'zorp box': word 'zorp' is not in the word vectors" in done.stderr


def test_a_stage_refuses_invalid_params_before_any_work(tmp_path):
    stage_project(tmp_path, pca={"dims": 9000})
    done = run_stage(tmp_path, "decode")
    assert done.returncode == 1 and "pca.dims: 9000 is more than" in done.stderr
    assert not (tmp_path / "data" / "decode").exists()


def test_kinetics400_missing_clips_are_counted_and_listed_by_decode(tmp_path, video_file):
    data = tmp_path / "kinetics"
    kinetics_layout(data, video_file)
    stage_project(tmp_path, dataset={"name": "kinetics400", "root": str(data)})
    result = run_stage(tmp_path, "decode")
    assert result.returncode == 0, result.stderr
    assert "2 rejected: no such file" in result.stderr
    table = pd.read_csv(tmp_path / "data/decode/videos.csv")
    assert (table.status == "ok").sum() == 3
    rejected = pd.read_csv(tmp_path / "data/decode/rejected.csv")
    assert sorted(rejected["id"]) == ["gone2_000003_000013.mp4", "gone_000001_000011.mp4"]


def extraction_project(tmp_path, video_file, n_videos, frames=None):
    """A project whose decode output lists ``n_videos`` real videos, one feature shard each;
    ``frames`` frames each, or 10, 11, 12... frames (different videos of one C3D clip each)."""
    videos = stage_project(tmp_path, features={"shard_videos": 1})
    rows = []
    for i in range(n_videos):
        path = videos / f"v{i}.mp4"
        path.write_bytes(video_file(f"src{i}.mp4", n_frames=frames or 10 + i).read_bytes())
        size, sha = file_identity(path)
        rows.append({"id": f"v{i}", "path": str(path), "class": "roll ball", "bytes": size,
                     "sha256": sha, "status": "ok"})
    table = tmp_path / "data" / "decode" / "videos.csv"
    table.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(table, index=False)
    (table.parent / "rejected.csv").write_text("id,path,class,reason\n")  # none rejected
    return table


def damaged_dataset(videos, video_file):
    """Real damaged videos of both containers next to good ones, in a dataset's index:
    {id: the stage that must leave it out and why}, None for the good ones."""
    mp4, avi = video_file("whole.mp4").read_bytes(), video_file("whole.avi").read_bytes()
    files = {"good.mp4": video_file("good.mp4", n_frames=20).read_bytes(),
             "changed.mp4": video_file("changed.mp4", n_frames=40).read_bytes(),
             "good.avi": video_file("good.avi", n_frames=24).read_bytes(),
             "truncated.mp4": mp4[:int(len(mp4) * 0.8)],
             "half.mp4": cut_after(faststart(videos.parent / "fast.mp4"), 30),
             "zeros.mp4": overwritten(mp4, len(mp4) // 2, len(mp4) // 10),
             "random.mp4": overwritten(mp4, len(mp4) // 2, len(mp4) // 10, zeros=False),
             "truncated.avi": avi[:int(len(avi) * 0.8)], "end.avi": avi[:-1],
             "zeros.avi": overwritten(avi, len(avi) // 2, len(avi) // 10)}
    for name, data in files.items():
        (videos / name).write_bytes(data)
    (videos / "index.csv").write_text("path,class\n" + "".join(
        f"{name},roll ball\n" for name in files))
    cut = "truncated: the file is shorter than its container says"
    return {"good.mp4": None, "good.avi": None, "truncated.mp4": ("decode", cut),
            "changed.mp4": ("extract", "changed: {size} bytes, the decode stage checked {checked}"),
            "half.mp4": ("decode", "truncated: header declares 60 frames, only 30 decode"),
            "zeros.mp4": ("extract", "decoding failed mid-stream"),
            "random.mp4": ("extract", "decoding failed mid-stream"),
            "truncated.avi": ("decode", "truncated: header declares 60 frames, only 44 decode"),
            "end.avi": ("decode", cut),
            "zeros.avi": ("decode", "truncated: header declares 60 frames, only 49 decode")}


def test_every_damaged_video_is_reported_once_and_the_good_ones_extracted(tmp_path, video_file):
    """Truncated, cut-short and overwritten files of both containers: decode rejects what its
    check sees, extraction's decode reports the rest, and data/features/rejected.csv lists
    every one with its stage and reason; so does a file replaced between the two stages
    (re-encoded shorter: reported as changed). No video is lost or extracted shortened."""
    videos = stage_project(tmp_path)
    want = damaged_dataset(videos, video_file)
    assert run_stage(tmp_path, "decode").returncode == 0
    checked = (videos / "changed.mp4").stat().st_size
    encode(videos / "changed.mp4", moving_bar(24))
    stale = tmp_path / "data" / "features" / "failed.csv"  # the report's name before
    stale.parent.mkdir(parents=True)
    stale.write_text("id,path,class,reason\n")
    done = run_stage(tmp_path, "extract")
    assert done.returncode == 0, done.stderr
    assert "8 videos left out: 5 rejected by decode, 3 failed in extract" in done.stderr
    assert not stale.exists()
    report = pd.read_csv(tmp_path / "data" / "features" / "rejected.csv")
    assert list(report.columns) == ["id", "path", "class", "stage", "reason"]
    sizes = {"size": (videos / "changed.mp4").stat().st_size, "checked": checked}
    assert {row.id: (row.stage, row.reason) for row in report.itertuples()} == \
        {name: (why[0], why[1].format(**sizes)) for name, why in want.items() if why}
    table = pd.read_csv(tmp_path / "data" / "decode" / "videos.csv").set_index("id")
    got = extracted(tmp_path)
    assert sorted(got) == ["good.avi", "good.mp4"]
    for name, (_, features) in got.items():  # every clip of every frame the decode counted
        assert len(features) == len(clip_starts(table.used_frames[name], 16, 8)), name


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


@pytest.mark.slow  # a process of its own
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


@pytest.mark.slow  # a process of its own
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
    for video, (label, features) in want.items():  # batches of other sizes: float sums differ
        assert got[video][0] == label
        np.testing.assert_allclose(got[video][1], features, rtol=1e-4, atol=1e-3)
    assert (two / "data" / "features" / "rejected.csv").is_file()


@pytest.mark.slow  # a process of its own
def test_extraction_on_a_full_disk_stops_with_one_line_and_the_rerun_resumes(small_disk,
                                                                            video_file):
    extraction_project(small_disk, video_file, 3, frames=16)  # one clip each: shards of ~21 kB
    filler = fill(small_disk, free=30_000)  # room for the first shard only
    done = stage_process(small_disk, "extract")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert re.fullmatch(r"error: data/features/shard-00001.h5: not enough disk space: \d+\.\d kB "
                        r"needed, \d+\.\d kB free; free some space and run again",
                        done.stderr.strip().splitlines()[-1])
    shards = small_disk / "data" / "features"
    assert [p.name for p in shards.iterdir()] == ["shard-00000.h5"]
    filler.unlink()
    done = stage_process(small_disk, "extract")
    assert done.returncode == 0, done.stderr
    assert "1 videos already extracted, 2 to do" in done.stderr
    assert sorted(extracted(small_disk)) == ["v0", "v1", "v2"]


def test_a_damaged_shard_stops_pca_with_one_line_and_extract_redoes_it(tmp_path, video_file):
    extraction_project(tmp_path, video_file, 2, frames=16)
    set_params(tmp_path, pca={"dims": 2})
    assert run_stage(tmp_path, "extract").returncode == 0
    before = extracted(tmp_path)
    damage_shard(tmp_path / "data" / "features" / "shard-00001.h5", "zeroed")
    done = run_stage(tmp_path, "pca")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: data/features/shard-00001.h5: damaged shard (")
    assert last.endswith("); run `dvc repro` to redo it")
    done = run_stage(tmp_path, "extract")
    assert done.returncode == 0, done.stderr
    assert ("data/features/shard-00001.h5 is damaged (" in done.stderr and
            "moved to .resume/damaged/shard-00001.h5, its videos are extracted again"
            in done.stderr and "1 videos already extracted, 1 to do" in done.stderr)
    assert (tmp_path / ".resume" / "damaged" / "shard-00001.h5").is_file()
    after = extracted(tmp_path)
    for video, (label, features) in before.items():
        assert after[video][0] == label
        np.testing.assert_allclose(after[video][1], features, rtol=1e-5, atol=1e-5)


THROWS = [f"throw_ball/throw_ball_{i:03d}.mp4" for i in range(3)]


def list_dataset(root, contents):
    """A list dataset at ``root``: {relative path: frames} encoded as real videos."""
    for name, frames in contents.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        encode(root / name, frames)
    (root / "index.csv").write_text("path,class\n" + "".join(
        f"{name},{name.split('/')[0].replace('_', ' ')}\n" for name in contents))
    return root


def decode_and_extract(project, root):
    """The decode and extract stages of ``project`` on the list dataset at ``root``: the
    extract stage's log."""
    set_params(project, dataset={"name": "list", "root": str(root), "list": "index.csv"})
    run_stage_ok(project, "decode")
    return run_stage_ok(project, "extract")


def test_decode_reads_no_file_the_listing_refused(tmp_path, monkeypatch):
    """A second name of one file (a link to a listed video) and a video outside dataset.root:
    rejected with the listing's reason and empty facts, their files neither probed nor hashed:
    the real probe and hash, in this process (one worker), record the paths they read."""
    read = []

    def recording(function):
        def reading(path, *args, **kwargs):
            read.append((function.__name__, str(path)))
            return function(path, *args, **kwargs)
        return reading

    for name in ("probe", "file_identity"):
        monkeypatch.setattr(video_module, name, recording(getattr(video_module, name)))
    project = tmp_path / "project"
    project.mkdir()
    stage_project(project, decode={"workers": 1})
    data = list_dataset(tmp_path / "data", {THROWS[0]: moving_bar(16)})
    (data / "throw_ball/again.mp4").symlink_to(data / THROWS[0])
    outside = encode(tmp_path / "outside.mp4", moving_bar(16))
    with (data / "index.csv").open("a") as f:
        f.write(f"throw_ball/again.mp4,throw ball\n{outside},throw ball\n")
    set_params(project, dataset={"name": "list", "root": str(data), "list": "index.csv"})
    run_stage_ok(project, "decode")
    table = pd.read_csv(project / "data/decode/videos.csv", keep_default_na=False)
    assert list(table.columns)[-10:] == ["frames", "fps", "duration", "width", "height",
                                         "used_frames", "bytes", "sha256", "status", "reason"]
    rows = table.set_index("id").to_dict("index")
    kept = rows.pop(THROWS[0])
    assert (kept["status"], kept["frames"]) == ("ok", 16)
    assert (kept["bytes"], kept["sha256"]) == file_identity(data / THROWS[0])
    assert {name: row["reason"].split(":")[0] for name, row in rows.items()} == {
        "throw_ball/again.mp4": "second name of one file",
        outside.as_posix(): "outside dataset.root"}
    for row in rows.values():
        assert row["status"] == "rejected"
        assert (row["frames"], row["used_frames"], row["bytes"], row["sha256"]) == (0, 0, 0, "")
    assert read == [("probe", str(data / THROWS[0])), ("file_identity", str(data / THROWS[0]))]


ONE_CLIP_BATCHES = {"batch_size": 1}  # so that features do not depend on the other videos


def test_features_follow_the_file_they_came_from(tmp_path):
    """Features belong to the file they came from, whatever its path. dataset.root set to
    another dataset with the same relative paths, holding the first one's files under swapped
    names (and one under its own name): the features each name must get are known, those its
    file got the first time. Then a file replaced in place: redone, its shard's others kept."""
    project = tmp_path / "project"
    project.mkdir()
    stage_project(project, features={"shard_videos": 2, **ONE_CLIP_BATCHES})
    first = list_dataset(tmp_path / "first", {name: moving_bar(16 + 2 * i)
                                              for i, name in enumerate(THROWS)})
    other = tmp_path / "other"
    shutil.copytree(first, other)
    swapped = {THROWS[0]: THROWS[1], THROWS[1]: THROWS[0], THROWS[2]: THROWS[2]}
    for name, source in swapped.items():
        shutil.copy(first / source, other / name)
    log = decode_and_extract(project, first)
    assert "0 videos already extracted, 3 to do" in log
    before = extracted(project)
    log = decode_and_extract(project, other)
    assert "1 videos already extracted, 2 to do" in log
    assert "2 videos are extracted again: their file changed since they were extracted" in log
    after = extracted(project)
    assert sorted(after) == THROWS
    for name, source in swapped.items():
        np.testing.assert_array_equal(after[name][1], before[source][1])
    assert not np.allclose(after[THROWS[0]][1], before[THROWS[0]][1], rtol=1e-3, atol=1e-3)
    recorded = {}
    for path in shard_paths(project / FEATURES):
        content = read_content(path)
        recorded.update(zip(content.ids, content.files))
    assert recorded == {video: file_identity(other / video) for video in THROWS}

    shutil.copy(first / THROWS[2], other / THROWS[0])  # replaced in place
    log = decode_and_extract(project, other)
    assert "2 videos already extracted, 1 to do" in log
    assert "1 videos are extracted again: their file changed since they were extracted" in log
    again = extracted(project)
    np.testing.assert_array_equal(again[THROWS[0]][1], before[THROWS[2]][1])
    for name in THROWS[1:]:
        np.testing.assert_array_equal(again[name][1], after[name][1])


def test_extract_refuses_a_decode_table_without_the_files(tmp_path, video_file):
    """videos.csv of an older decode stage does not say which file each video was."""
    table = extraction_project(tmp_path, video_file, 1)
    pd.read_csv(table).drop(columns=["bytes", "sha256"]).to_csv(table, index=False)
    done = run_stage(tmp_path, "extract")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: data/decode/videos.csv: no column bytes, sha256 (each video's file size and "
        "SHA-256): written by an older decode stage; run `dvc repro` to run it again")
    assert not (tmp_path / FEATURES).exists()


def test_extract_refuses_a_weights_file_holding_code_without_torchs_advice(tmp_path,
                                                                           video_file):
    from conftest import RunsCode

    extraction_project(tmp_path, video_file, 1)
    marker = tmp_path / "ran"
    torch.save({"conv1.weight": RunsCode(marker)}, tmp_path / "c3d.pth")
    set_params(tmp_path, features={"weights": str(tmp_path / "c3d.pth")})
    done = run_stage(tmp_path, "extract")
    assert done.returncode == 1 and "Traceback" not in done.stderr and not marker.exists()
    last = done.stderr.strip().splitlines()[-1]
    assert last == (f"error: features.weights: {tmp_path / 'c3d.pth'} holds the Python object "
                    "getattr, not only tensors: refused, as loading it could run code; save the "
                    "weights alone (torch.save(model.state_dict(), path))")
    assert "weights_only" not in done.stderr and "safe_globals" not in done.stderr


def classes_file(tmp_path, names):
    write_classes(tmp_path / CLASSES, "test", names, [n.split() for n in names],
                  np.eye(len(names), dtype=np.float32))


def test_splits_stage_warns_when_a_ratio_holds_out_a_single_class(tmp_path):
    stage_project(tmp_path, zsl={"ratios": ["50_50", "90_10"], "n_splits": 3})
    names = [f"class {i}" for i in range(8)]
    classes_file(tmp_path, names)
    features_of(tmp_path, names, 2)
    done = run_stage(tmp_path, "splits")
    assert done.returncode == 0, done.stderr
    assert ("ratio 90_10: 3 of 3 splits hold out a single class, whose top-1 is 1.0 by "
            "construction") in done.stderr
    assert "ratio 50_50" not in done.stderr


def evaluate_project(tmp_path, **changes):
    """What evaluate reads: 8 classes, one 90_10 split holding out the first, and one test
    video of it embedded by action2vec and by the baseline."""
    changes["zsl"] = {"ratios": ["90_10"], "n_splits": 1, "variants": ["action2vec"],
                      **changes.get("zsl", {})}
    stage_project(tmp_path, **changes)
    names = [f"class {i}" for i in range(8)]
    classes_file(tmp_path, names)
    (tmp_path / SPLITS).write_text(json.dumps(
        {"90_10": [{"seen": names[1:], "validation": [], "unseen": names[:1],
                    "held_out": []}]}))
    for folder in ("train/action2vec/90_10", "baseline/90_10"):
        out = tmp_path / "data" / folder
        out.mkdir(parents=True)
        np.savez(out / "split-0.npz", video_id=np.array(["a.mp4"]), label=np.array(names[:1]),
                 role=np.array(["unseen"]), embedding=np.ones((1, 8)))
    (tmp_path / "data/train/action2vec/90_10/split-0.json").write_text('[{"epoch": 1, "loss": 1}]')
    write_leakage(tmp_path / LEAKAGE, "c3d", None, "no list", 0.9, {})


def test_evaluate_scores_every_role_as_worked_out_by_hand(tmp_path):
    """Zero-shot, validation, generalized zero-shot and unflagged top-1 of hand-made
    embeddings (one-hot class vectors: a video gets the class of its largest coordinate)."""
    evaluate_project(tmp_path, zsl={"bootstrap": 200})
    names = [f"class {i}" for i in range(8)]
    (tmp_path / SPLITS).write_text(json.dumps({"90_10": [{
        "seen": names[2:6], "validation": names[6:], "unseen": names[:2],
        "held_out": ["h1", "h2"]}]}))
    videos = [  # id, class, role, the class its embedding points at
        ("u0", 0, "unseen", 0), ("u1", 1, "unseen", 0), ("u2", 1, "unseen", 1),
        ("v0", 6, "validation", 6), ("v1", 7, "validation", 6),
        ("h1", 2, "held_out", 2), ("h2", 3, "held_out", 0)]
    np.savez(tmp_path / "data/train/action2vec/90_10/split-0.npz",
             video_id=np.array([v[0] for v in videos]),
             label=np.array([names[v[1]] for v in videos]), role=np.array([v[2] for v in videos]),
             embedding=np.eye(8)[[v[3] for v in videos]])
    (tmp_path / "data/train/action2vec/90_10/split-0.json").write_text(json.dumps(
        [{"epoch": 1, "loss": 1, "chosen": True},
         {"epoch": 2, "loss": 1, "chosen": False, "validation_hits": [0, 0]}]))
    write_leakage(tmp_path / LEAKAGE, "i3d", "kinetics400", None, 0.9,
                  {"class 1": {"nearest": "x", "cosine": 0.95, "flagged": True},
                   "class 0": {"nearest": "y", "cosine": 0.5, "flagged": False}})
    done = run_stage(tmp_path, "evaluate")
    assert done.returncode == 0, done.stderr
    m = json.loads((tmp_path / ZSL_REPORT).read_text())["90_10"]["action2vec"]
    assert m["top1_mean"] == 2 / 3
    # the saved embeddings are the chosen epoch's: v0 right, v1 wrong; the last epoch got none
    assert (m["validation_top1_selected_mean"], m["validation_top1_mean"]) == (1 / 2, 0.0)
    # among seen + unseen: seen class 2 right, class 3 wrong -> 1/2; class 0 1/1, class 1 1/2
    assert (m["gzsl_seen_mean"], m["gzsl_unseen_mean"]) == (0.5, 0.75)
    assert m["gzsl_harmonic"] == pytest.approx(2 * 0.5 * 0.75 / 1.25)
    assert m["unflagged_top1_mean"] == 1.0  # class 1 flagged: only u0 remains
    chance = json.loads((tmp_path / ZSL_REPORT).read_text())["90_10"]["chance"]
    assert chance["gzsl_seen_mean"] == chance["gzsl_harmonic"] == 1 / 6  # 4 seen + 2 unseen
    assert m["top5_mean"] is None and "5 or fewer" in m["top5_note"]
    assert m["top1_low"] <= m["top1_mean"] <= m["top1_high"]
    protocol = json.loads((tmp_path / PROTOCOL_REPORT).read_text())
    assert protocol["pca_fit_on"] == "seen" and protocol["flagged_classes"] == 1


def test_evaluate_warns_that_a_single_unseen_class_scores_one(tmp_path):
    evaluate_project(tmp_path)
    done = run_stage(tmp_path, "evaluate")
    assert done.returncode == 0, done.stderr
    assert "ratio 90_10: 1 of 1 splits hold out a single class" in done.stderr
    zsl = json.loads((tmp_path / ZSL_REPORT).read_text())
    assert zsl["90_10"]["action2vec"]["top1_mean"] == 1.0


def conse_project(tmp_path):
    """An I3D project of 4 GloVe-named classes, one 50_50 split holding out the first two, and
    per class one video whose Mixed_5c features point the Kinetics-400 classifier at the class
    of the same action ("playing guitar" for "play guitar")."""
    from action2vec.conse import logits_layer
    from action2vec.dataset import packaged_classes
    from action2vec.labels import class_vectors, read_name_map
    from action2vec.vectors import load_space
    names = ["play guitar", "ride horse", "swim", "juggle balls"]
    kinetics = {"play guitar": "playing guitar", "ride horse": "riding or walking with horse",
                "swim": "swimming backstroke", "juggle balls": "juggling balls"}
    evaluate_project(tmp_path, features={"backbone": "i3d", "layer": "mixed_5c"},
                     zsl={"ratios": ["50_50"]})
    write_classes(tmp_path / CLASSES, "glove-6b-50d", names, [n.split() for n in names],
                  class_vectors(names, load_space("glove-6b-50d"), read_name_map()))
    (tmp_path / SPLITS).write_text(json.dumps({"50_50": [{
        "seen": names[2:], "validation": [], "unseen": names[:2], "held_out": []}]}))
    weight, _ = logits_layer()
    order = packaged_classes("kinetics400")
    with ShardWriter(tmp_path / FEATURES, {"layer": "mixed_5c"}, 256) as writer:
        for name in names:
            direction = weight[order.index(kinetics[name])]
            writer.add(f"{name}.mp4", name, np.tile(40 * direction / np.linalg.norm(direction),
                                                     (2, 1)).astype(np.float32))
    for folder in ("train/action2vec/50_50", "baseline/50_50"):
        out = tmp_path / "data" / folder
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "split-0.npz", video_id=np.array(["a", "b"]), label=np.array(names[:2]),
                 role=np.array(["unseen"] * 2), embedding=np.ones((2, 50)))
    (tmp_path / "data/train/action2vec/50_50/split-0.json").write_text('[{"epoch": 1, "loss": 1}]')
    return names


def test_evaluate_adds_conse_with_i3d_and_records_what_each_baseline_used(tmp_path):
    conse_project(tmp_path)
    done = run_stage(tmp_path, "evaluate")
    assert done.returncode == 0, done.stderr
    zsl = json.loads((tmp_path / ZSL_REPORT).read_text())["50_50"]
    assert set(zsl) == {"action2vec", "pooled", "conse", "chance"}
    assert (zsl["pooled"]["backbone"], zsl["pooled"]["layer"]) == ("i3d", "mixed_5c")
    assert zsl["pooled"]["random_init"] is False and "backbone" not in zsl["action2vec"]
    # each unseen video's top Kinetics class is its own action: ConSE names both right
    assert zsl["conse"]["top1_mean"] == 1.0 and "Kinetics-400" in zsl["conse"]["note"]
    assert zsl["conse"]["top"] == 10


def test_evaluate_refuses_conse_in_another_label_space(tmp_path):
    conse_project(tmp_path)
    write_classes(tmp_path / CLASSES, "minilm", ["a b", "c d"], [["a", "b"], ["c", "d"]],
                  np.eye(2, dtype=np.float32))
    done = run_stage(tmp_path, "evaluate")
    assert done.returncode == 1 and "made with the word vectors 'minilm'" in done.stderr


def protocol_project(tmp_path):
    """A project after extraction: 8 classes x 5 videos of random 24-d clip features, their
    classes.json and small model settings; the splits stage drawn (ratio 50_50, one split).
    Trainings run one after another in this process: forked after torch has run here, a
    worker can hang in OpenMP (test_jobs runs parallel trainings in a stage process)."""
    stage_project(tmp_path, zsl={"ratios": ["50_50"], "n_splits": 1, "variants": ["action2vec"]},
                  pca={"dims": 4}, sequence={"steps": 4},
                  train={"chunk": 2, "lstm1": 16, "lstm2": 8, "attention": 8, "epochs": 3,
                         "batch_size": 4, "workers": 1})
    names = [f"class {i}" for i in range(8)]
    classes_file(tmp_path, names)
    rng = np.random.default_rng(0)
    with ShardWriter(tmp_path / FEATURES, {"layer": "fc7"}, 16) as writer:
        for i in range(40):
            clips = rng.normal(size=(2 + i % 5, 24)).astype(np.float32)
            writer.add(f"v{i:02d}", names[i % 8], clips)
    decode_table(tmp_path, [(f"v{i:02d}", names[i % 8]) for i in range(40)])
    run_stage_ok(tmp_path, "splits")
    return json.loads((tmp_path / SPLITS).read_text())["50_50"][0]


def poison(directory, videos):
    """Replace the features of ``videos`` with garbage (large random values), in place."""
    rng = np.random.default_rng(1)
    kept = list(iter_videos(directory))
    shutil.rmtree(directory)
    with ShardWriter(directory, {"layer": "fc7"}, 16) as writer:
        for video, label, features in kept:
            if video in videos:
                features = rng.normal(1e3, 1e3, size=features.shape).astype(np.float32)
            writer.add(video, label, features)


def test_no_unseen_or_held_out_video_reaches_anything_fitted(tmp_path):
    """The same project twice, the second with the unseen classes' and the held-out videos'
    features replaced by garbage: the split's PCA, the trained model (every epoch's losses and
    validation top-1, the chosen epoch, the weights) and the baseline's regression are the
    same, so none of those videos reached them. Only their own embeddings differ."""
    roots = [tmp_path / "clean", tmp_path / "poisoned"]
    for root in roots:
        root.mkdir()
        split = protocol_project(root)
    assert split["validation"] and split["held_out"] and split["unseen"]
    test = set(split["held_out"]) | {f"v{i:02d}" for i in range(40)
                                     if f"class {i % 8}" in split["unseen"]}
    poison(roots[1] / FEATURES, test)
    for root in roots:
        for stage, *args in (("pca",), ("sequence",), ("train",),
                             ("baseline", "50_50")):
            run_stage_ok(root, stage, *args)
    clean, poisoned = roots
    model = Path("data/train/action2vec/50_50")
    for name in (projection_file("50_50", 0), model / "split-0.json"):
        assert (clean / name).read_bytes() == (poisoned / name).read_bytes(), name
    weights = [torch.load(root / model / "split-0.pt", weights_only=True)["state_dict"]
               for root in roots]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    for out in (model / "split-0.npz", Path("data/baseline/50_50/split-0.npz")):
        saved = [np.load(root / out) for root in roots]
        valid = saved[0]["role"] == "validation"
        assert valid.any() and (saved[1]["role"] == saved[0]["role"]).all()
        np.testing.assert_array_equal(saved[0]["embedding"][valid], saved[1]["embedding"][valid])
        assert not np.allclose(saved[0]["embedding"][~valid], saved[1]["embedding"][~valid])


def decode_table(tmp_path, videos, marks=None):
    """The decode stage's table of ``videos`` ([(id, class)]), every one decoded; ``marks``
    ({id: "train" or "test"}) adds a list dataset's split column."""
    table = pd.DataFrame([{"id": v, "path": v, "class": c, "status": "ok"} for v, c in videos])
    if marks is not None:
        table.insert(3, "split", [marks.get(v, "") for v, _ in videos])
    (tmp_path / DECODE).mkdir(parents=True, exist_ok=True)
    table.to_csv(tmp_path / DECODED, index=False)


def features_of(tmp_path, names, per_class, marks=None):
    """Feature shards with ``per_class`` videos of each class (2 clips of 4 random values), and
    the decode stage's table of them (with ``marks``, see decode_table)."""
    rng = np.random.default_rng(0)
    with ShardWriter(tmp_path / FEATURES, {"layer": "fc7"}, 256) as writer:
        for name in names:
            for i in range(per_class):
                writer.add(f"{name}/{i}", name, rng.normal(size=(2, 4)).astype(np.float32))
    decode_table(tmp_path, [(f"{n}/{i}", n) for n in names for i in range(per_class)], marks)


def test_splits_stage_holds_out_the_videos_the_split_column_marks_test(tmp_path):
    """Of each seen class: video 0 marked test is held out, video 1 marked train and the
    unmarked video 2 are trained on (0.2 of 1 unmarked video rounds to none)."""
    stage_project(tmp_path, zsl={"ratios": ["50_50"], "n_splits": 2})
    names = [f"class {i}" for i in range(8)]
    classes_file(tmp_path, names)
    marks = {f"{n}/{i}": mark for n in names for i, mark in ((0, "test"), (1, "train"))}
    features_of(tmp_path, names, 3, marks)
    done = run_stage(tmp_path, "splits")
    assert done.returncode == 0, done.stderr
    assert "split column: 8 videos marked test (held out where their class is seen), 8 marked " \
           "train, 8 unmarked" in done.stderr
    for split in json.loads((tmp_path / SPLITS).read_text())["50_50"]:
        assert split["held_out"] == [f"{n}/0" for n in split["seen"]]
        assert split["held_out_marked"] == len(split["seen"]) == 3
    marks.update({"class 3/1": "test", "class 3/2": "test"})
    decode_table(tmp_path, [(f"{n}/{i}", n) for n in names for i in range(3)], marks)
    done = run_stage(tmp_path, "splits")
    assert done.returncode == 1 and done.stderr.strip().startswith(
        "error: class 'class 3': all its 3 videos are marked test in the dataset's split column")


def test_splits_stage_draws_truze_on_a_ucf101_layout(tmp_path):
    """Ratio truze on a project whose classes are UCF101's: the unseen classes are the
    packaged TruZe list's, whatever the split; validation and held-out videos still drawn."""
    from action2vec.dataset import packaged_classes

    stage_project(tmp_path, dataset={"name": "ucf101", "root": "ucf101"},
            zsl={"ratios": ["truze"], "n_splits": 2})
    names = sorted(packaged_classes("ucf101"))
    classes_file(tmp_path, names)
    features_of(tmp_path, names, 2)
    run_stage_ok(tmp_path, "splits")
    splits = json.loads((tmp_path / SPLITS).read_text())["truze"]
    truze = pd.read_csv(ROOT / "action2vec/resources/truze_splits.csv")
    unseen = sorted(truze[(truze.dataset == "ucf101") & (truze.role == "unseen")]["class"])
    assert len(unseen) == 34
    assert [s["unseen"] for s in splits] == [unseen, unseen]
    assert splits[0]["validation"] != splits[1]["validation"]
    assert all(len(s["seen"]) + len(s["validation"]) == 67 for s in splits)


def test_splits_stage_keeps_flagged_classes_out_of_the_unseen_pool(tmp_path):
    """With leakage.exclude, no class data/leakage.json flags is ever drawn as unseen."""
    stage_project(tmp_path, zsl={"ratios": ["50_50"], "n_splits": 5}, leakage={"exclude": True})
    names = [f"class {i}" for i in range(8)]
    classes_file(tmp_path, names)
    features_of(tmp_path, names, 3)
    flagged = names[:4]
    write_leakage(tmp_path / LEAKAGE, "i3d", "kinetics400", None, 0.9,
                  {n: {"nearest": n, "cosine": 1.0 if n in flagged else 0.1,
                       "flagged": n in flagged} for n in names})
    run_stage_ok(tmp_path, "splits")
    splits = json.loads((tmp_path / SPLITS).read_text())["50_50"]
    assert all(s["unseen"] == names[4:] for s in splits)


def test_transductive_pca_gives_every_split_the_projection_of_every_video(tmp_path):
    """pca.fit_on: all: each split's projection is the one fitted on every video (the unseen
    classes' included), byte for byte; with seen, it is not."""
    from action2vec.paths import PCA_MODEL

    for fit_on in ("all", "seen"):
        root = tmp_path / fit_on
        root.mkdir()
        protocol_project(root)
        set_params(root, pca={"fit_on": fit_on})
        run_stage_ok(root, "pca")
        same = (root / projection_file("50_50", 0)).read_bytes() == (root / PCA_MODEL).read_bytes()
        assert same == (fit_on == "all")
        assert json.loads((root / PCA_REPORT).read_text())["fit_on"] == fit_on


def test_the_sequence_stage_checks_the_disk_before_writing(small_disk):
    """100 videos of 52 steps x 8 PCA dimensions need 0.17 MB; with 1 kB free the stage says so
    in one line before writing anything, and runs once there is room."""
    stage_project(small_disk)
    with ShardWriter(small_disk / "data" / "pca" / "shards", {"pca_dims": 8}, 100) as writer:
        for i in range(100):
            writer.add(f"v{i:03d}", "a", np.ones((3, 8), np.float32))
    filler = fill(small_disk, free=1000)
    done = run_stage(small_disk, "sequence")
    assert done.returncode == 1
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("error: data/sequence: not enough disk space for sequences.h5 "
                            "(100 videos x 52 steps x 8): 0.2 MB needed, 0.0 kB free"), error
    assert not (small_disk / "data" / "sequence" / "sequences.h5").exists()
    filler.unlink()
    run_stage_ok(small_disk, "sequence")


def test_the_train_stage_checks_the_disk_before_training(small_disk):
    """Two trainings' models and resume states with their scratch sequences: with 1 kB free the
    stage says so in one line and trains nothing."""
    protocol_project(small_disk)
    run_stage_ok(small_disk, "pca")
    run_stage_ok(small_disk, "sequence")
    fill(small_disk, free=1000)
    done = run_stage(small_disk, "train")
    assert done.returncode == 1
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("error: data: not enough disk space for 2 trainings' models and "
                            "resume states, and their scratch sequences: "), error
    assert not (small_disk / "data" / "train").exists()


def test_the_check_stage_refuses_a_name_map_that_is_not_utf8_and_passes_the_defaults(tmp_path):
    stage_project(tmp_path)
    run_stage_ok(tmp_path, "check")
    checked = (tmp_path / "data" / "params.checked").read_bytes()
    (tmp_path / "mine.csv").write_bytes("name,words\nCaf\xe9Run,run\n".encode("latin-1"))
    set_params(tmp_path, labels={"name_map": "mine.csv"})
    done = run_stage(tmp_path, "check")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-2:] == [
        "error: params.yaml cannot run:",
        "  labels.name_map: mine.csv: not UTF-8 text (byte 0xe9 at offset 14, line 2); save it "
        "as UTF-8"]
    assert (tmp_path / "data" / "params.checked").read_bytes() == checked  # kept, unchanged
