import logging
import os
import shutil
import subprocess
import sys

import pytest

from action2vec import Action2VecError
from action2vec.dataset import (OUTSIDE, list_videos, name_map_rows, read_split_column,
                                read_table)
from conftest import ROOT, kinetics_layout, run_stage, stage_project


def test_rendered_index_lists_paths_classes_and_ids(tmp_path):
    (tmp_path / "index.csv").write_text("path,class\nroll_ball/b.mp4,roll ball\n"
                                        "drop_box/a.mp4,drop box\n")
    videos = list_videos("rendered", tmp_path)
    assert [v["id"] for v in videos] == ["drop_box/a.mp4", "roll_ball/b.mp4"]
    assert videos[1]["class"] == "roll ball"
    assert videos[1]["path"] == str(tmp_path / "roll_ball" / "b.mp4")


def test_clear_errors_for_bad_datasets(tmp_path):
    with pytest.raises(Action2VecError, match="unknown dataset 'ucf'"):
        list_videos("ucf", tmp_path)
    with pytest.raises(Action2VecError, match="dataset.name: the dataset 'embedded' was renamed "
                                              "to 'rendered'"):
        list_videos("embedded", tmp_path)
    with pytest.raises(Action2VecError, match="index.csv not found; it must be a CSV file with "
                                              "the header `path,class`") as missing:
        list_videos("rendered", tmp_path)
    assert "`dvc repro` renders it" in str(missing.value)
    assert "the render stage writes it" not in str(missing.value)
    with pytest.raises(Action2VecError, match="is not a directory"):
        list_videos("rendered", tmp_path / "nowhere")
    (tmp_path / "index.csv").write_text("file,label\nx.mp4,a\n")
    with pytest.raises(Action2VecError, match="header 'path,class'"):
        list_videos("rendered", tmp_path)


def test_ids_keep_the_extension_so_two_formats_of_one_name_are_two_videos(tmp_path):
    (tmp_path / "index.csv").write_text("path,class\na/x.mp4,roll ball\na/x.avi,roll ball\n")
    assert [v["id"] for v in list_videos("rendered", tmp_path)] == ["a/x.avi", "a/x.mp4"]


@pytest.mark.parametrize("second", ["a/x.mp4,roll ball", "a/x.mp4,drop box",
                                    "a/../a/x.mp4,drop box", "{root}/a/x.mp4,roll ball"])
def test_a_file_listed_twice_in_the_index_is_an_error_naming_both_lines(tmp_path, second):
    (tmp_path / "index.csv").write_text("path,class\na/x.mp4,roll ball\nb/y.mp4,drop box\n"
                                        + second.format(root=tmp_path) + "\n")
    with pytest.raises(Action2VecError, match=r"index.csv:4: .*x.mp4 is listed twice \(also at "
                                              r".*index.csv:2\)"):
        list_videos("rendered", tmp_path)


def test_absolute_paths_in_the_index_get_ids_inside_or_outside_the_root(tmp_path):
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere" / "z.mp4"
    root.mkdir()
    (root / "index.csv").write_text(f"path,class\n{root}/a/x.mp4,roll ball\n"
                                    f"{elsewhere},drop box\n")
    videos = {v["id"]: v for v in list_videos("rendered", root)}
    assert videos == {"a/x.mp4": {"id": "a/x.mp4", "path": f"{root}/a/x.mp4",
                                  "class": "roll ball"},
                      elsewhere.as_posix(): {"id": elsewhere.as_posix(), "path": str(elsewhere),
                                             "class": "drop box", "refused": OUTSIDE}}


@pytest.mark.parametrize("row, message", [("a/x.mp4,", "index.csv:3: empty class"),
                                          ("a/x.mp4,  ", "index.csv:3: empty class"),
                                          (",roll ball", "index.csv:3: empty path"),
                                          ("a/x.mp4", r"index.csv:3: malformed line"),
                                          ("a/x.mp4,roll ball,x", r"index.csv:3: malformed line")])
def test_empty_or_missing_cells_in_the_index_name_the_file_and_line(tmp_path, row, message):
    (tmp_path / "index.csv").write_text(f"path,class\nb/y.mp4,drop box\n{row}\n")
    with pytest.raises(Action2VecError, match=message):
        list_videos("rendered", tmp_path)


def ucf_layout(root, video_file, classes=("ApplyEyeMakeup", "Basketball")):
    """A UCF101 directory as published, with real (tiny) videos."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(classes, 1)))
    train, test = [], []
    for i, name in enumerate(classes, 1):
        folder = root / "UCF-101" / name
        folder.mkdir(parents=True)
        for group in (1, 8):
            rel = f"{name}/v_{name}_g{group:02d}_c01.avi"
            (root / "UCF-101" / rel).write_bytes(video_file("src.avi", n_frames=8).read_bytes())
            (train if group == 8 else test).append(rel)
        train[-1] = f"{train[-1]} {i}"
    for k in (1, 2, 3):
        (lists / f"trainlist0{k}.txt").write_text("\n".join(train) + "\n")
        (lists / f"testlist0{k}.txt").write_text("\n".join(test) + "\n")
    return lists


def test_ucf101_layout_gives_classes_labels_and_paths(tmp_path, video_file):
    ucf_layout(tmp_path, video_file)
    videos = list_videos("ucf101", tmp_path)
    assert len(videos) == 4
    assert {v["class"] for v in videos} == {"ApplyEyeMakeup", "Basketball"}
    first = videos[0]
    assert first["id"] == "UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"
    assert first["path"] == str(tmp_path / "UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi")


def refused(dataset, root, list_file, text, match):
    """Write ``text`` into a list file and check that listing the dataset is refused."""
    list_file.write_text(text)
    with pytest.raises(Action2VecError, match=match):
        list_videos(dataset, root)


def test_ucf101_unknown_class_wrong_label_and_malformed_line(tmp_path, video_file):
    lists = ucf_layout(tmp_path, video_file)
    test, good = lists / "testlist02.txt", (lists / "testlist02.txt").read_text()
    refused("ucf101", tmp_path, test, good + "Surfing/v_Surfing_g01_c01.avi\n",
            r"testlist02.txt:3: class 'Surfing' is not in")
    refused("ucf101", tmp_path, test, good + "not a path at all\n",
            r"testlist02.txt:3: malformed line")
    test.write_text(good)
    refused("ucf101", tmp_path, lists / "trainlist03.txt",
            "Basketball/v_Basketball_g08_c01.avi 1\n", "label 1 but classInd.txt gives Basketball the number 2")


def test_ucf101_class_not_in_the_published_list_is_an_error(tmp_path, video_file):
    lists = ucf_layout(tmp_path, video_file)
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 BasketBall\n")
    with pytest.raises(Action2VecError, match=r"classInd.txt:2: class 'BasketBall' is not a "
                                              "UCF101 class"):
        list_videos("ucf101", tmp_path)


def test_ucf101_missing_file_is_listed_and_rejected_by_decode(tmp_path, video_file):
    from action2vec.video import probe

    ucf_layout(tmp_path, video_file)
    gone = tmp_path / "UCF-101/Basketball/v_Basketball_g01_c01.avi"
    gone.unlink()
    videos = {v["path"]: v for v in list_videos("ucf101", tmp_path)}
    assert str(gone) in videos
    info = probe(gone, fps=30, max_seconds=14)
    assert info["status"] == "rejected" and info["reason"] == "no such file"


def test_hmdb51_layout_and_its_errors(tmp_path, video_file):
    lists = tmp_path / "testTrainMulti_7030_splits"
    lists.mkdir()
    for name in ("brush_hair", "ride_bike"):
        (tmp_path / name).mkdir()
        lines = []
        for k, tag in enumerate((1, 2, 0)):
            video = f"{name}_clip_{k}.avi"
            (tmp_path / name / video).write_bytes(video_file("s.avi", n_frames=8).read_bytes())
            lines.append(f"{video} {tag}")
        for split in (1, 2, 3):
            (lists / f"{name}_test_split{split}.txt").write_text("\n".join(lines) + "\n")
    videos = list_videos("hmdb51", tmp_path)
    assert len(videos) == 6 and {v["class"] for v in videos} == {"brush_hair", "ride_bike"}
    assert videos[0]["id"] == "brush_hair/brush_hair_clip_0.avi"
    (lists / "ride_bike_test_split1.txt").write_text("ride_bike_clip_0.avi 1\n"
                                                     "ride_bike_clip_1.avi 2\n"
                                                     "ride_bike_clip_0.avi 2\n")
    with pytest.raises(Action2VecError, match=r"ride_bike_test_split1.txt:3: .*ride_bike_clip_0"
                                              r".avi is listed twice \(also at .*split1.txt:1\)"):
        list_videos("hmdb51", tmp_path)
    (lists / "ride_bike_test_split1.txt").write_text("ride_bike_clip_0.avi 7\n")
    with pytest.raises(Action2VecError, match=r"ride_bike_test_split1.txt:1: malformed line"):
        list_videos("hmdb51", tmp_path)


def test_hmdb51_class_not_in_the_published_list_is_an_error(tmp_path):
    lists = tmp_path / "testTrainMulti_7030_splits"
    lists.mkdir()
    (lists / "brush_hiar_test_split1.txt").write_text("a.avi 1\n")
    with pytest.raises(Action2VecError, match="brush_hiar_test_split1.txt: class 'brush_hiar' is "
                                              "not an HMDB51 class"):
        list_videos("hmdb51", tmp_path)


@pytest.mark.parametrize("flat", [False, True])
def test_kinetics400_layout_lists_clips_and_their_classes(tmp_path, video_file, flat):
    kinetics_layout(tmp_path, video_file, flat)
    videos = {v["id"]: v for v in list_videos("kinetics400", tmp_path)}
    assert sorted(videos) == ["abc-DEF_123_000005_000015.mp4", "gone2_000003_000013.mp4",
                              "gone_000001_000011.mp4", "x0_000000_000010.mp4",
                              "y1_000012_000022.mp4"]
    clip = videos["abc-DEF_123_000005_000015.mp4"]
    assert clip["class"] == "playing piano"
    folder = "train" if flat else "train/playing_piano"
    assert clip["path"] == str(tmp_path / folder / "abc-DEF_123_000005_000015.mp4")
    assert videos["y1_000012_000022.mp4"]["class"] == "abseiling"


def test_kinetics400_errors_name_the_file_and_line(tmp_path, video_file):
    val = kinetics_layout(tmp_path, video_file) / "validate.csv"
    good = val.read_text()
    cases = [("abseilling,z9,0,10,validate", "class 'abseilling' is not a Kinetics-400 class"),
             ("abseiling,z9,zero,10,validate", "time_start/time_end are not"),
             ("abseiling,z9", "malformed line"),
             ("abseiling,abc-DEF_123,5,15,validate", ".*000015.mp4 lies in the folder of class "
              "'playing piano' but is annotated 'abseiling'"),
             ("playing piano,gone2,3,13,validate", "gone2_000003_000013.mp4 is annotated "
              "'playing piano' here and 'abseiling' at .*validate.csv:3")]
    for line, message in cases:
        refused("kinetics400", tmp_path, val, good + line + "\n", "validate.csv:4: " + message)
    refused("kinetics400", tmp_path, val, "youtube_id,label\n", "validate.csv: missing the columns")


def test_camel_case_and_underscore_names_split_into_words():
    from action2vec.labels import class_words

    assert class_words("ApplyEyeMakeup", {}) == ["apply", "eye", "makeup"]
    assert class_words("brush_hair", {}) == ["brush", "hair"]
    assert class_words("YoYo", {}) == ["yo", "yo"]


def folder_layout(root, video_file):
    """A folder dataset of real videos: a CamelCase and an underscore class, a video two folders
    below its class folder (a Matroska name, MP4 inside), a text file, hidden files and a
    hidden folder, and a file directly under the root."""
    clip = video_file("clip.mp4", n_frames=8, height=48, width=64).read_bytes()
    files = {"ApplyLipstick/a.mp4": clip,
             "ApplyLipstick/b.avi": video_file("clip.avi", n_frames=8, height=48,
                                               width=64).read_bytes(),
             "ApplyLipstick/.DS_Store": b"\0", "brush_hair/x.mp4": clip,
             "brush_hair/2024/day 1/y.mkv": clip, "brush_hair/notes.txt": b"not a video",
             "brush_hair/.cache/z.mp4": clip, ".DS_Store": b"\0", "README.md": b"my clips"}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_folder_lists_every_file_below_each_class_folder(tmp_path, video_file, caplog):
    from action2vec.video import probe

    root = folder_layout(tmp_path / "clips", video_file)
    with caplog.at_level(logging.INFO):
        videos = list_videos("folder", root)
    assert [(v["id"], v["class"]) for v in videos] == [
        ("ApplyLipstick/a.mp4", "ApplyLipstick"), ("ApplyLipstick/b.avi", "ApplyLipstick"),
        ("brush_hair/2024/day 1/y.mkv", "brush_hair"), ("brush_hair/notes.txt", "brush_hair"),
        ("brush_hair/x.mp4", "brush_hair")]
    assert videos[2]["path"] == str(root / "brush_hair/2024/day 1/y.mkv")
    assert f"1 file(s) directly under {root} belong to no class folder: skipped (README.md)" in (
        caplog.text)
    assert f"3 hidden files or folders (names starting with '.') under {root}: skipped" in (
        caplog.text)
    # every file is listed; decode tells the videos from the rest
    status = {v["id"]: probe(v["path"], fps=30, max_seconds=14) for v in videos}
    assert status["brush_hair/notes.txt"]["reason"] == "not a video container"
    assert all(status[i]["status"] == "ok" for i in status if i != "brush_hair/notes.txt")


FOLDER_LINK = "DVC's hash of dataset.root leaves out what a link to a folder holds"


def links_layout(root, video_file):
    """folder_layout with links of every kind: a loop to the root (as ``swing stick/loop -> ..``
    in the issue), a link to another class's folder, a class folder that is a link, links to a
    video inside and outside the root, a dangling link and a link to itself; and the video
    outside the root."""
    folder_layout(root, video_file)
    outside = video_file("outside.mp4", n_frames=8, height=48, width=64)
    (root / "brush_hair/loop").symlink_to("..")
    (root / "brush_hair/2024/lips").symlink_to(root / "ApplyLipstick")
    (root / "Linked").symlink_to(root / "brush_hair")
    (root / "ApplyLipstick/again.mp4").symlink_to("../brush_hair/x.mp4")
    (root / "ApplyLipstick/outside.mp4").symlink_to(outside)
    (root / "brush_hair/gone.mp4").symlink_to(root / "nowhere.mp4")
    (root / "brush_hair/self.mp4").symlink_to("self.mp4")
    return root, outside


def test_folder_reads_links_as_dvc_hashes_them_and_lists_no_file_twice(tmp_path, video_file,
                                                                       caplog):
    root, outside = links_layout(tmp_path / "clips", video_file)
    with caplog.at_level(logging.WARNING):
        videos = list_videos("folder", root)
    assert {v["id"]: v.get("refused") for v in videos} == {
        "ApplyLipstick/a.mp4": None, "ApplyLipstick/b.avi": None,
        "ApplyLipstick/outside.mp4": None,  # a link to a file: DVC hashes the file
        "ApplyLipstick/again.mp4": "second name of one file: it leads to the file of "
                                   "brush_hair/x.mp4, which is read; keep one name",
        "brush_hair/2024/day 1/y.mkv": None, "brush_hair/notes.txt": None,
        "brush_hair/x.mp4": None,
        "brush_hair/gone.mp4": "dangling link: what it leads to does not exist; restore it "
                               "or remove the link",
        "brush_hair/self.mp4": "link loop: the link leads back to itself; remove it"}
    # links to folders are not followed (DVC leaves out what they hold), each named in the log
    for link in ("Linked", "brush_hair/loop", "brush_hair/2024/lips"):
        assert f"{root / link}: a link to a folder, not followed: {FOLDER_LINK}" in caplog.text
    assert len({os.path.realpath(v["path"]) for v in videos if "refused" not in v}) == 6
    assert [v["path"] for v in videos if v["id"] == "ApplyLipstick/outside.mp4"] == [
        str(root / "ApplyLipstick/outside.mp4")]


def test_decode_rejects_what_the_listing_refused_with_its_reason(tmp_path, video_file):
    root, _ = links_layout(tmp_path / "clips", video_file)
    project = tmp_path / "project"
    project.mkdir()
    stage_project(project, dataset={"name": "folder", "root": str(root)})
    done = run_stage(project, "decode")
    assert done.returncode == 0, done.stderr
    table = read_table(project / "data/decode/videos.csv").set_index("id")
    assert table.index.is_unique and len(table) == 9
    assert sorted(table[table.status == "ok"].index) == [
        "ApplyLipstick/a.mp4", "ApplyLipstick/b.avi", "ApplyLipstick/outside.mp4",
        "brush_hair/2024/day 1/y.mkv", "brush_hair/x.mp4"]
    rejected = read_table(project / "data/decode/rejected.csv").set_index("id").reason
    assert rejected.str.split(":").str[0].to_dict() == {
        "ApplyLipstick/again.mp4": "second name of one file",
        "brush_hair/gone.mp4": "dangling link", "brush_hair/notes.txt": "not a video container",
        "brush_hair/self.mp4": "link loop"}
    assert "1 rejected: link loop\n" in done.stderr
    assert f"{root}/brush_hair/loop: a link to a folder, not followed" in done.stderr


def test_list_and_published_layouts_refuse_links_as_the_folder_dataset_does(tmp_path,
                                                                            video_file):
    root, outside = links_layout(tmp_path / "clips", video_file)
    (root / "mine.csv").write_text(
        "path,class\nbrush_hair/x.mp4,brush_hair\nApplyLipstick/again.mp4,brush_hair\n"
        "ApplyLipstick/outside.mp4,ApplyLipstick\nbrush_hair/loop,brush_hair\n"
        "Linked/x.mp4,brush_hair\nbrush_hair/gone.mp4,brush_hair\n"
        f"brush_hair/self.mp4,brush_hair\n{outside},ApplyLipstick\n")
    reasons = {v["id"]: v.get("refused", "").split(":")[0]
               for v in list_videos("list", root, "mine.csv")}
    assert reasons == {"brush_hair/x.mp4": "", "ApplyLipstick/again.mp4": "second name of one file",
                       "ApplyLipstick/outside.mp4": "", "brush_hair/loop": "link to a folder",
                       "Linked/x.mp4": "below a link to a folder",
                       "brush_hair/gone.mp4": "dangling link", "brush_hair/self.mp4": "link loop",
                       outside.as_posix(): "outside dataset.root"}
    ucf = tmp_path / "ucf"
    ucf_layout(ucf, video_file)
    real = ucf / "UCF-101/Basketball"
    real.rename(ucf / "elsewhere")
    real.symlink_to(ucf / "elsewhere")  # a class folder that is a link: DVC leaves it out
    reasons = {v["id"]: v.get("refused", "") for v in list_videos("ucf101", ucf)}
    assert reasons["UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"] == ""
    assert reasons["UCF-101/Basketball/v_Basketball_g01_c01.avi"].startswith(
        f"below a link to a folder: UCF-101/Basketball is a link; {FOLDER_LINK}")


def test_folder_errors_name_the_folder(tmp_path, video_file):
    root = folder_layout(tmp_path / "clips", video_file)
    (root / "Empty" / "nothing here").mkdir(parents=True)
    (root / "Empty" / ".DS_Store").write_bytes(b"\0")
    with pytest.raises(Action2VecError, match=f"{root}/Empty: empty class 'Empty': no file below "
                                              "its folder"):
        list_videos("folder", root)
    for folder in ("ApplyLipstick", "brush_hair", "Empty"):
        shutil.rmtree(root / folder)
    with pytest.raises(Action2VecError, match=f"dataset.root: {root} has no class folder; the "
                                              "folder dataset reads <root>/<class>/<video>"):
        list_videos("folder", root)


def unprivileged(code):
    """Run Python ``code`` from the project root as a user whom folder permissions bind (root
    is not bound unless its capabilities to bypass them are dropped)."""
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("as root, an unreadable folder needs setpriv to drop root's capabilities")
        caps = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *command]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


@pytest.mark.slow  # a process of its own
def test_an_unreadable_folder_is_an_error_naming_it(tmp_path, video_file):
    root = folder_layout(tmp_path / "clips", video_file)
    locked = root / "brush_hair" / "2024"
    locked.chmod(0)
    try:
        done = unprivileged("from action2vec.dataset import list_videos\n"
                            "from action2vec import Action2VecError\n"
                            f"try: list_videos('folder', {str(root)!r})\n"
                            "except Action2VecError as e: print(e)")
    finally:
        locked.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{locked}: cannot read the folder (Permission denied)"


def test_list_reads_paths_classes_and_the_split_column(tmp_path, video_file):
    root, outside = tmp_path / "clips", video_file("outside.mp4", n_frames=8)
    folder_layout(root, video_file)
    (root / "lists").mkdir()
    (root / "lists/mine.csv").write_text(
        "path,class,split\nApplyLipstick/a.mp4,ApplyLipstick,train\n"
        f"{outside},ApplyLipstick,test\n brush_hair/x.mp4 , brush_hair ,\n")
    videos = list_videos("list", root, "lists/mine.csv")
    assert videos == [  # sorted by id
        {"id": outside.as_posix(), "path": str(outside), "class": "ApplyLipstick",
         "split": "test", "refused": OUTSIDE},  # DVC would not see it change
        {"id": "ApplyLipstick/a.mp4", "path": f"{root}/ApplyLipstick/a.mp4",
         "class": "ApplyLipstick", "split": "train"},
        {"id": "brush_hair/x.mp4", "path": f"{root}/brush_hair/x.mp4", "class": "brush_hair",
         "split": ""}]
    (root / "index.csv").write_text("path,class\nApplyLipstick/a.mp4,ApplyLipstick\n")
    assert list_videos("list", root) == list_videos("rendered", root) == [
        {"id": "ApplyLipstick/a.mp4", "path": f"{root}/ApplyLipstick/a.mp4",
         "class": "ApplyLipstick"}]  # no split column: no split
    with pytest.raises(Action2VecError, match=r"clips/other.csv not found; it must be a CSV file "
                                              r"with the header `path,class`.*\(dataset.list "
                                              "names it, a file in dataset.root\\)"):
        list_videos("list", root, "other.csv")


@pytest.mark.parametrize("row, message", [
    ("./a/x.mp4,roll ball,", r"mine.csv:4: .*a/x.mp4 is listed twice \(also at .*mine.csv:2\)"),
    ("a/sub/../x.mp4,drop box,test", r"mine.csv:4: .*x.mp4 is listed twice \(also at "
                                     r".*mine.csv:2\)"),
    ("a/y.mp4,,train", "mine.csv:4: empty class"), (" ,roll ball,", "mine.csv:4: empty path"),
    ("a/y.mp4,roll ball,val", "mine.csv:4: split 'val' must be train, test or empty"),
    ("a/y.mp4,roll ball", "mine.csv:4: malformed line"),
    ("a/y.mp4,roll ball,test,x", "mine.csv:4: malformed line")])
def test_list_errors_name_the_file_and_line(tmp_path, row, message):
    (tmp_path / "mine.csv").write_text("path,class,split\na/x.mp4,roll ball,train\n"
                                       f"b/y.mp4,drop box,test\n{row}\n")
    with pytest.raises(Action2VecError, match=message):
        list_videos("list", tmp_path, "mine.csv")


def test_the_split_column_reaches_the_decode_table_reader(tmp_path):
    table = tmp_path / "videos.csv"
    table.write_text("id,path,class,split,status\na.mp4,a.mp4,x,train,ok\nb.mp4,b.mp4,x,,ok\n"
                     "c.mp4,c.mp4,x,test,rejected\n")
    assert read_split_column(table) == {"a.mp4": "train", "c.mp4": "test"}
    table.write_text("id,path,class,status\na.mp4,a.mp4,x,ok\n")
    assert read_split_column(table) == {}
    with pytest.raises(Action2VecError, match="nowhere.csv not found; the decode stage writes it"):
        read_split_column(tmp_path / "nowhere.csv")


def test_own_datasets_read_every_row_of_the_packaged_name_map():
    """A folder or list class spelt as a published class gets its reviewed words, whichever
    dataset publishes it; a published dataset reads its own rows only."""
    from action2vec.labels import class_words, read_name_map

    for dataset in ("folder", "list"):
        name_map = read_name_map(dataset=name_map_rows(dataset))
        assert len(name_map) == 544
        assert class_words("Skijet", name_map) == ["jetski"]  # UCF101's row
        assert class_words("flic_flac", name_map) == ["backflip"]  # HMDB51's
        assert class_words("clean and jerk", name_map) == ["weightlifting"]  # Kinetics-400's
        assert class_words("RideHorse", name_map) == ["ride", "horse"]  # in no map: split
    assert len(read_name_map(dataset=name_map_rows("ucf101"))) == 101
    assert read_name_map(dataset=name_map_rows("rendered")) == {}


def test_the_decode_table_keeps_names_that_look_like_numbers_or_missing_values(tmp_path):
    """Class folders "1" and "NA" stay the text names the labels stage looks up."""
    table = tmp_path / "videos.csv"
    table.write_text("id,path,class,frames,status,reason\n1/a.mp4,1/a.mp4,1,40,ok,\n"
                     "NA/b.mp4,NA/b.mp4,NA,40,ok,\n")
    read = read_table(table)
    assert list(read["class"]) == ["1", "NA"] and list(read["reason"]) == ["", ""]
    assert read["frames"].tolist() == [40, 40]


def test_a_list_file_saved_with_a_byte_order_mark_is_read(tmp_path, video_file):
    """Excel writes UTF-8 CSV with a byte-order mark before the header."""
    root = tmp_path / "clips"
    folder_layout(root, video_file)
    (root / "index.csv").write_bytes(b"\xef\xbb\xbfpath,class\nApplyLipstick/a.mp4,ApplyLipstick\n")
    assert [v["id"] for v in list_videos("list", root)] == ["ApplyLipstick/a.mp4"]
