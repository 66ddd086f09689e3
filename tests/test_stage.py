from action2vec.stage import table


def test_table_aligns_columns_numbers_right():
    text = table([["a", 1, 0.5], ["long name", 10, None]], ["", "n", "score"])
    assert text.splitlines() == ["            n  score",
                                 "a           1  0.500",
                                 "long name  10      -"]


def test_table_takes_digits_and_the_aligned_columns():
    assert table([["x", 0.25]], digits=1) == "x  0.2"
    assert table([["x", "1 ± 2"], ["yy", "3"]], right=[False, True]).splitlines() == [
        "x   1 ± 2", "yy      3"]
