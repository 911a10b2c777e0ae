"""The end-to-end benchmark's account: rates per tenth of the rows, answers by phase, and a
row count that says when it is not the events'."""

from __future__ import annotations

from bench.end_to_end_figures import Answer, Loaded, Point, Run, answer_lines, lines, timeline


def test_each_tenth_of_the_rows_gets_the_rates_since_the_line_before() -> None:
    points = [Point(1.0, 1_000, 500), Point(2.0, 2_000, 1_000), Point(4.0, 10_000, 10_000)]
    out = timeline(points, events=10_000)
    # 500 rows reach no tenth; 1,000 is the first; 10,000 reaches every other tenth at once,
    # printed once at its own time
    assert len(out) == 2
    assert out[0].split() == ["2s", "2,000", "1,000", "1,000/s", "500/s"]
    assert out[1].split() == ["4s", "10,000", "10,000", "4,000/s", "4,500/s"]


def test_answers_are_told_apart_by_whether_events_were_still_being_written() -> None:
    answers = [
        Answer("health", 200, 10.0, during=True),
        Answer("health", 503, 30.0, during=True),
        Answer("health", 200, 5.0, during=False),
    ]
    assert answer_lines(answers) == [
        "    health during: 1/2 answered 200, median 20 ms, max 30 ms",
        "    health after: 1/1 answered 200, median 5 ms, max 5 ms",
    ]


def test_a_row_count_other_than_the_events_is_said_plainly() -> None:
    run = Run(Loaded(1, 10, 8_000, 4.0, 100.0), sample_s=2.0, rows_s=2.0, counted_rows=7_999)
    text = "\n".join(lines(run))
    assert "count(*) of the rows: 7,999 (NOT equal to the events)" in text
    assert "every 2s; at a share of the rows committed" in text
    exact = Run(Loaded(1, 10, 8_000, 4.0, 100.0), counted_rows=8_000)
    assert "count(*) of the rows: 8,000 (exact)" in "\n".join(lines(exact))
