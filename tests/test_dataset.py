import pytest

from action2vec import Action2VecError
from action2vec.dataset import list_videos
from conftest import kinetics_layout


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
                                             "class": "drop box"}}


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
