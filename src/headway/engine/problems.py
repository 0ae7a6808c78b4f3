"""Errors as data: every problem found in a workspace or its data, with where it is.

A validation collects every problem it can find before it stops, so a person fixes a
workspace in one go rather than one error per run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with the place it is at and a sentence for people."""

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
        if self.key:
            where = f"{where} ({self.key})" if where else self.key
        return f"{where}: {self.message}" if where else self.message


class HeadwayError(Exception):
    """Bad input: a workspace, data file, option or period that cannot be used.

    The command line prints the problems and exits with status 2; anything else that
    escapes is a bug.
    """

    def __init__(self, problems: Iterable[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            items: tuple[Problem, ...] = (Problem(problems),)
        elif isinstance(problems, Problem):
            items = (problems,)
        else:
            items = tuple(problems)
        if not items:
            raise ValueError("HeadwayError needs at least one problem")
        self.problems = items
        super().__init__("\n".join(str(p) for p in items))
