"""A least-recently-used store of HTTP answers, bounded by the bytes of their bodies."""

from __future__ import annotations

import threading
from collections import OrderedDict

# A cached answer: its body and the headers to send with it.
Entry = tuple[bytes, list[tuple[str, str]]]


class ByteBoundLRU:
    """Least recently used entries, at most `limit` bytes of bodies in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
            return found

    def put(self, key: str, entry: Entry) -> None:
        body = entry[0]
        if len(body) > self.limit:
            return
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.size -= len(old[0])
            self.entries[key] = entry
            self.size += len(body)
            while self.size > self.limit:
                _key, dropped = self.entries.popitem(last=False)
                self.size -= len(dropped[0])

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.size = 0
