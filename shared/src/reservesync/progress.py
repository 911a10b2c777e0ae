"""Progress of long work (replay, re-encryption, verification): a rich progress bar when the
output is a terminal, a plain line every few seconds (and a last one at the end) when it is a
file or a pipe, so logs keep the record of how it went.

    with Progress("replay", total=offsets, unit="offsets") as progress:
        progress.advance(done, note=f"{records} records")
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(
        self,
        what: str,
        total: int,
        *,
        unit: str = "records",
        every_s: float = 2.0,
        stream: TextIO | None = None,
        bar: bool | None = None,
    ) -> None:
        """`bar`: None decides by whether `stream` (default stdout) is a terminal."""
        self.what = what
        self.total = total
        self.unit = unit
        self.every_s = every_s
        self.stream = stream or sys.stdout
        self.done = 0
        self.note = ""
        self._closed = False
        self.started = self.last_line = time.monotonic()
        use_bar = self.stream.isatty() if bar is None else bar
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        if use_bar:
            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(unit),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._task = self._bar.add_task(what, total=total, note="")

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def advance(self, amount: int = 1, *, note: str | None = None) -> None:
        self.update(self.done + amount, note=note)

    def update(self, done: int, *, total: int | None = None, note: str | None = None) -> None:
        self.done = done
        self.total = self.total if total is None else total
        self.note = self.note if note is None else note
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=self.total, note=self.note)
        elif time.monotonic() - self.last_line >= self.every_s:
            self._line()

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        percent = 100.0 * self.done / self.total if self.total else 100.0
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        note = f", {self.note}" if self.note else ""
        return (
            f"{self.what}: {self.done}/{self.total} {self.unit} ({percent:5.1f}%){note}, "
            f"{rate:,.0f} {self.unit}/s, ETA {left:,.0f}s"
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        else:
            self._line()

    def _line(self) -> None:
        self.last_line = time.monotonic()
        print(self.line(), file=self.stream, flush=True)
