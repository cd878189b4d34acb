from qa_pipeline.intervals import gaps_between, merge_intervals


def test_merge_overlapping_touching_and_unsorted() -> None:
    assert merge_intervals([(5.0, 6.0), (0.0, 1.0), (0.5, 2.0), (2.0, 3.0)]) == [(0.0, 3.0), (5.0, 6.0)]
    assert merge_intervals([]) == []


def test_gaps_between() -> None:
    assert gaps_between([(0.0, 1.0), (0.5, 2.0), (4.0, 5.0), (7.5, 8.0)]) == [(2.0, 4.0), (5.0, 7.5)]
    assert gaps_between([(0.0, 1.0)]) == []
