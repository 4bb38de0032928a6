"""The hand-over between pipeline stages: a bounded channel that blocks (a file: no frame lost) or keeps the newest (live: no old frame shown)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Deque, Dict, Optional


class Closed(Exception):
    """The channel is closed and empty: everything upstream has finished."""


class Channel:
    """A bounded hand-over. block: the producer waits while full. latest: one slot, a new item replaces an unconsumed one (a drop)."""

    def __init__(self, name: str, capacity: int = 2, latest: bool = False, on_drop: Optional[Callable[[], None]] = None) -> None:
        self.name = name
        self.latest = latest
        self.capacity = 1 if latest else max(1, int(capacity))
        self.max_depth = 0
        self.dropped = 0
        self._items: Deque[Any] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._on_drop = on_drop

    def put(self, item: Any) -> bool:
        """False when the channel was closed (the consumer is gone): the producer should stop."""
        with self._cond:
            if self.latest and self._items and not self._closed:
                self._items.popleft()
                self.dropped += 1
                if self._on_drop is not None:
                    self._on_drop()
            while len(self._items) >= self.capacity and not self._closed:
                self._cond.wait()
            if self._closed:
                return False
            self._items.append(item)
            self.max_depth = max(self.max_depth, len(self._items))
            self._cond.notify_all()
            return True

    def wait_room(self) -> bool:
        """Block until a put would not wait (False once closed): a file is decoded only when its frame can move on."""
        with self._cond:
            while len(self._items) >= self.capacity and not self._closed:
                self._cond.wait()
            return not self._closed

    def get(self) -> Any:
        with self._cond:
            while not self._items:
                if self._closed:
                    raise Closed(self.name)
                self._cond.wait()
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self, discard: bool = False) -> None:
        with self._cond:
            self._closed = True
            if discard:
                self._items.clear()
            self._cond.notify_all()

    def stats(self) -> Dict[str, Any]:
        return {"mode": "latest" if self.latest else "block", "capacity": self.capacity, "max_depth": self.max_depth, "dropped": self.dropped}
