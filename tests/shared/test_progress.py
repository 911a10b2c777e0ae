"""The shared progress helper: lines in a log, a bar on a terminal, both ending at 100 %."""

from __future__ import annotations

import io

from reservesync.progress import Progress


def test_without_a_terminal_it_writes_lines_and_a_last_one() -> None:
    out = io.StringIO()
    with Progress("replay", 10, unit="offsets", every_s=0, stream=out) as progress:
        for done in (3, 7, 10):
            progress.update(done, note=f"{done - 1} records")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("replay: 3/10 offsets ( 30.0%), 2 records")
    assert lines[-1].startswith("replay: 10/10 offsets (100.0%), 9 records")
    assert len(lines) == 4, "three updates and the closing line"


def test_on_a_terminal_it_draws_a_bar() -> None:
    out = io.StringIO()
    with Progress("re-encrypt", 4, unit="rows", stream=out, bar=True) as progress:
        progress.advance(2)
        progress.advance(2)
    drawn = out.getvalue()
    assert "re-encrypt" in drawn
    assert "4/4" in drawn
    assert "━" in drawn
