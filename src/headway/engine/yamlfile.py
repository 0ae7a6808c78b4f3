"""YAML reading that remembers where every key and item is, so errors can name the line."""

from __future__ import annotations

import contextlib
import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from headway.engine.problems import HeadwayError, Problem

Location = tuple[str | int, ...]

MAX_WORKSPACE_BYTES = 5 * 1024 * 1024


@dataclass
class YamlDocument:
    """Plain Python data from a YAML file, with a 1-based line number per path."""

    path: Path
    data: Any
    lines: dict[Location, int] = field(default_factory=dict)

    def line_of(self, location: Location) -> int | None:
        """The line of the deepest part of `location` that the file has."""
        for end in range(len(location), -1, -1):
            line = self.lines.get(tuple(location[:end]))
            if line is not None:
                return line
        return None


MAX_DEPTH = 50
MAX_NODES = 200_000


class _Budget:
    """Stops YAML that nests absurdly deep or expands aliases into millions of nodes."""

    def __init__(self) -> None:
        self.nodes = 0

    def spend(self, depth: int) -> None:
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise _TooBig(f"nested more than {MAX_DEPTH} levels deep")
        if self.nodes > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES:,} values long (too many aliases?)")


class _TooBig(Exception):
    pass


def _plain(
    node: Any, location: Location, lines: dict[Location, int], budget: _Budget | None = None
) -> Any:
    """Turns ruamel's round-trip objects into dicts, lists and scalars, noting lines."""
    budget = budget or _Budget()
    budget.spend(len(location))
    if isinstance(node, CommentedMap):
        result: dict[Any, Any] = {}
        for key, value in node.items():
            child = (*location, str(key))
            with contextlib.suppress(KeyError, TypeError, AttributeError):
                lines[child] = node.lc.key(key)[0] + 1
            result[str(key) if not isinstance(key, str) else key] = _plain(
                value, child, lines, budget
            )
        return result
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*location, index)
            with contextlib.suppress(KeyError, TypeError, AttributeError, IndexError):
                lines[child] = node.lc.item(index)[0] + 1
            items.append(_plain(value, child, lines, budget))
        return items
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, datetime.datetime):
        return datetime.datetime.fromisoformat(node.isoformat())
    if isinstance(node, datetime.date):
        return datetime.date(node.year, node.month, node.day)
    return node


def read_yaml(path: Path) -> YamlDocument:
    """Reads one YAML file; a missing, oversized or malformed file is a HeadwayError."""
    shown = str(path)
    if not path.exists():
        raise HeadwayError(Problem("file not found", file=shown))
    if not path.is_file():
        raise HeadwayError(Problem("is not a file", file=shown))
    if path.stat().st_size > MAX_WORKSPACE_BYTES:
        raise HeadwayError(
            Problem(f"is larger than {MAX_WORKSPACE_BYTES // (1024 * 1024)} MB", file=shown)
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise HeadwayError(Problem(f"is not UTF-8 text (byte {error.start})", file=shown)) from None
    yaml = YAML(typ="rt")
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = error.problem or error.context or "malformed YAML"
        raise HeadwayError(Problem(f"malformed YAML: {reason}", file=shown, line=line)) from None
    except YAMLError as error:
        raise HeadwayError(Problem(f"malformed YAML: {error}", file=shown)) from None
    except RecursionError:
        raise HeadwayError(Problem("the YAML is nested too deeply", file=shown)) from None
    lines: dict[Location, int] = {}
    try:
        data = _plain(raw, (), lines)
    except (_TooBig, RecursionError) as error:
        reason = str(error) if isinstance(error, _TooBig) else "nested too deeply"
        raise HeadwayError(
            Problem(f"the workspace is refused: it is {reason}", file=shown)
        ) from None
    return YamlDocument(path=path, data=data, lines=lines)
