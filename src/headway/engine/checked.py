"""Remembering data files that passed their checks, so unchanged files are not re-checked.

Checking that 10 million keys are unique costs more than computing twenty KPIs from
them. A file that passed is remembered by its path, size and modification time (as
make and git do) together with what was checked; any change to the file, or to what the
workspace needs of it, checks it again. Failures are never remembered. The same folder
keeps facts read from a file version (the schema and statistics of a Parquet part), so
that an unchanged part is not opened just to learn them again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


class CheckedFiles:
    """A folder of markers, one per file version that passed its checks."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def default(cls, environ: Mapping[str, str] | None = None) -> CheckedFiles | None:
        """The cache under HEADWAY_CACHE_DIR or the user's cache folder; None if disabled."""
        env = os.environ if environ is None else environ
        if env.get("HEADWAY_NO_CACHE"):
            return None
        base = env.get("HEADWAY_CACHE_DIR")
        if base:
            return cls(Path(base) / "checked")
        cache_home = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(Path(cache_home) / "headway" / "checked")

    @staticmethod
    def identity(path: Path) -> list[object] | None:
        """What tells one version of a file from another: where it is, its size, its
        modification time and inode; None if it cannot be read."""
        try:
            stat = path.stat()
        except OSError:
            return None
        # abspath, not resolve(): no system call per folder of the path (the inode already
        # tells a file put in place of another).
        return [os.path.abspath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino]

    def signature(
        self, path: Path, what: object, identity: list[object] | None = None
    ) -> str | None:
        found = identity if identity is not None else self.identity(path)
        if found is None:
            return None
        text = json.dumps([*found, what], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def facts(self, signature: str | None) -> Any:
        """What was remembered of a file version (a JSON value), or None."""
        if signature is None:
            return None
        try:
            return json.loads((self.directory / f"{signature}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # Missing, or half-written by a process that died: read the file again.
            return None

    def remember_facts(self, signature: str | None, facts: object) -> None:
        """Keeps facts read from a file version (its schema, its statistics), so that
        the next run need not open the file to learn them again."""
        if signature is None:
            return
        target = self.directory / f"{signature}.json"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed: a reader never sees half of it.
            partial = target.with_suffix(f".{os.getpid()}.part")
            partial.write_text(json.dumps(facts, default=str), encoding="utf-8")
            partial.replace(target)
        except OSError:
            return

    def together(self, signatures: Sequence[str | None]) -> str | None:
        """The signature of several file versions checked as one whole (the keys of a
        folder of Parquet parts are unique across them); None if any file is unreadable."""
        if not signatures or any(signature is None for signature in signatures):
            return None
        return hashlib.sha256(json.dumps(["together", *signatures]).encode()).hexdigest()

    def passed(self, signature: str | None) -> bool:
        return signature is not None and (self.directory / signature).exists()

    def remember(self, signature: str | None) -> None:
        if signature is None:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / signature).touch()
        except OSError:
            # A read-only home only costs the next run a re-check.
            return
