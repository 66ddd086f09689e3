import pytest

from action2vec import Action2VecError
from action2vec.dataset import list_videos


def test_embedded_index_lists_paths_classes_and_ids(tmp_path):
    (tmp_path / "index.csv").write_text("path,class\nroll_ball/b.mp4,roll ball\n"
                                        "drop_box/a.mp4,drop box\n")
    videos = list_videos("embedded", tmp_path)
    assert [v["id"] for v in videos] == ["drop_box/a", "roll_ball/b"]
    assert videos[1]["class"] == "roll ball"
    assert videos[1]["path"] == str(tmp_path / "roll_ball" / "b.mp4")


def test_clear_errors_for_bad_datasets(tmp_path):
    with pytest.raises(Action2VecError, match="unknown dataset 'ucf'"):
        list_videos("ucf", tmp_path)
    with pytest.raises(Action2VecError, match="index.csv not found"):
        list_videos("embedded", tmp_path)
    with pytest.raises(Action2VecError, match="is not a directory"):
        list_videos("embedded", tmp_path / "nowhere")
    (tmp_path / "index.csv").write_text("file,label\nx.mp4,a\n")
    with pytest.raises(Action2VecError, match="header 'path,class'"):
        list_videos("embedded", tmp_path)
