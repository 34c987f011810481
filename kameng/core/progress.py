"""A progress bar for long command-line jobs, drawn on one terminal line (and silent when not on a terminal)."""

from typing import TextIO


class ProgressBar:
    WIDTH = 30

    def __init__(self, stream: TextIO, *, total: int, unit: str, force: bool = False) -> None:
        self.stream, self.total, self.unit = stream, max(total, 1), unit
        self.shown = force or (hasattr(stream, "isatty") and stream.isatty())

    def update(self, done: int) -> None:
        if not self.shown:
            return
        filled = self.WIDTH * done // self.total
        percent = 100 * done // self.total
        self.stream.write(
            f"\r[{'#' * filled}{'-' * (self.WIDTH - filled)}] {percent:3d} %  {done}/{self.total} {self.unit}"
        )
        self.stream.flush()

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
