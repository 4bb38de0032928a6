"""Limits that hold before authentication: how many connections, from whom, and for how long without a request.

Why not another server library: aiohttp is already our HTTP stack and a maintained parser with bounded
lines, fields and header counts (which we tighten below), but like uvicorn/hypercorn it has no cap on
connections per address, and its keep-alive timer is not a deadline for a request's headers. Moving to
uvicorn or hypercorn would add a dependency and an ASGI layer and still leave those two limits to us.
So the parser stays aiohttp's, and the connection policy is this one small, tested module in front of it:
an asyncio protocol wrapper that counts connections at accept time, before a byte is parsed.

The policy (all numbers in `Limits`):
- a connection that has not finished a request's headers is *pending*; it gets `header_timeout` seconds
  (also after each response, for the next request on a kept-alive connection) and is then closed;
- at most `per_address` connections from one address and `total` in all. A newcomer over the per-address
  cap pushes out the oldest *pending* connection of its own address. Over the total, a newcomer from an
  address that already holds its fair share (total / addresses) is refused at once (503, before any
  parsing: the cheapest answer to a flood), and one from a quiet address (an authorised viewer) pushes out
  the oldest pending connection of the address holding the most; if nothing can be pushed out (every
  slot is serving a request), the newcomer gets a 503 and is closed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Deque, Dict, Optional, OrderedDict

REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\nRetry-After: 5\r\n"
           b"X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n\r\n")


@dataclass
class Limits:
    """Connection caps and timeouts; the defaults hold 1,000 idle sockets on a 2-core device (benchmarks/hostile_clients.py)."""

    total: int = 128
    per_address: int = 32
    header_timeout: float = 5.0  # seconds to send a request's headers (and to send the next one on a kept-alive connection)
    write_timeout: float = 10.0  # a viewer whose socket takes a frame (or an event) no faster than this is let go
    stall_evict: float = 1.0  # a new viewer may take the slot of one whose write has been stuck this long
    buffered_frames: int = 3  # a viewer's socket buffers about this many frames (at least 64 KiB): a stop is seen at once
    max_events: int = 8  # /events subscribers at once
    body_bytes: int = 1024  # no route reads a body: anything larger is refused with 413
    sweep_every: float = 0.25


class _Conn(asyncio.Protocol):
    """Wraps aiohttp's per-connection protocol: admitted or refused at accept time, then forwarded to unchanged."""

    def __init__(self, guard: "ConnectionGuard") -> None:
        self.guard = guard
        self.inner: Any = None  # aiohttp's protocol, made only for an admitted connection
        self.transport: Optional[asyncio.Transport] = None
        self.address = "?"
        self.admitted = False
        self.deadline = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else "?"
        if not self.guard.admit(self):
            transport.write(REFUSED)  # type: ignore[attr-defined]
            transport.close()
            return
        self.admitted = True  # aiohttp's protocol is made at the first byte: a silent socket costs no parser, no task

    def data_received(self, data: bytes) -> None:
        if not self.admitted:
            return
        if self.inner is None:
            self.inner = self.guard.inner_factory()
            self.inner.connection_made(self.transport)
        self.inner.data_received(data)

    def eof_received(self) -> Optional[bool]:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if self.admitted:
            self.guard.release(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)


class ConnectionGuard:
    """The accept-time policy above, for one listening server; runs on that server's event loop only."""

    def __init__(self, limits: Limits, inner_factory: Callable[[], Any], clock: Callable[[], float] = time.monotonic) -> None:
        self.limits, self.inner_factory, self.clock = limits, inner_factory, clock
        self.pending: OrderedDict[_Conn, None] = collections.OrderedDict()  # oldest first
        self.by_address: Dict[str, OrderedDict[_Conn, None]] = {}
        self.by_transport: Dict[Any, _Conn] = {}
        self.count = 0
        self.refused = 0
        self.evicted = 0
        self.timed_out = 0
        self._sweeper: Optional[asyncio.Task] = None

    def factory(self) -> _Conn:
        """What `loop.create_server` calls for each accepted socket."""
        return _Conn(self)

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    # -- admission ------------------------------------------------------------------------------------
    def admit(self, conn: _Conn) -> bool:
        mine = self.by_address.setdefault(conn.address, collections.OrderedDict())
        if len(mine) >= self.limits.per_address and not self._evict_from(mine):
            return self._refuse(conn)
        if self.count >= self.limits.total:
            fair = self.limits.total / max(1, len(self.by_address))
            if len(mine) >= fair or not self._evict_heaviest():  # a flooding address is refused at once (cheapest)
                return self._refuse(conn)
        mine[conn] = None
        self.count += 1
        if conn.transport is not None:
            self.by_transport[conn.transport] = conn
        self._set_pending(conn)
        return True

    def _refuse(self, conn: _Conn) -> bool:
        self.refused += 1
        if not self.by_address.get(conn.address):
            self.by_address.pop(conn.address, None)
        return False

    def _evict_from(self, conns: "OrderedDict[_Conn, None]") -> bool:
        """Close the oldest pending connection among `conns`; False when none of them is pending."""
        for old in conns:
            if old in self.pending:
                self.evicted += 1
                self._close(old)
                return True
        return False

    def _evict_heaviest(self) -> bool:
        """Over the total: push out a pending connection of the address that holds the most (a flood, not a viewer)."""
        for address in sorted(self.by_address, key=lambda a: len(self.by_address[a]), reverse=True):
            if self._evict_from(self.by_address[address]):
                return True
        return False

    def _close(self, conn: _Conn) -> None:
        self._forget(conn)
        if conn.transport is not None:
            conn.transport.abort()  # no lingering: the slot is free now, connection_lost follows on the loop

    def _forget(self, conn: _Conn) -> None:
        self.pending.pop(conn, None)
        mine = self.by_address.get(conn.address)
        if mine is not None and conn in mine:
            del mine[conn]
            self.count -= 1
            if not mine:
                del self.by_address[conn.address]
        if conn.transport is not None:
            self.by_transport.pop(conn.transport, None)

    def release(self, conn: _Conn) -> None:
        """connection_lost: the slot is free (a no-op for one already evicted)."""
        self._forget(conn)

    # -- request life cycle (called by the app's middleware) --------------------------------------------
    def _set_pending(self, conn: _Conn) -> None:
        conn.deadline = self.clock() + self.limits.header_timeout
        self.pending.pop(conn, None)
        self.pending[conn] = None

    def busy(self, transport: Any) -> None:
        """Headers are in and a handler runs: no deadline, not evictable (long-lived routes have their own limits)."""
        conn = self.by_transport.get(transport)
        if conn is not None:
            self.pending.pop(conn, None)

    def idle(self, transport: Any) -> None:
        """The handler returned: the connection waits for its next request under the header deadline again."""
        conn = self.by_transport.get(transport)
        if conn is not None:
            self._set_pending(conn)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.limits.sweep_every)
            now = self.clock()
            while self.pending:
                oldest = next(iter(self.pending))  # deadlines only grow along the queue
                if oldest.deadline > now:
                    break
                self.timed_out += 1
                self._close(oldest)

    def snapshot(self) -> Dict[str, int]:
        """Counts for /stats.json and the hostile-clients benchmark."""
        return {"connections": self.count, "pending": len(self.pending), "refused": self.refused,
                "evicted": self.evicted, "timed_out": self.timed_out}


class OneLineLog(logging.Handler):
    """aiohttp's server log as one short line per problem, at most `burst` a minute, never the request itself.

    Why: aiohttp logs a malformed request with a traceback whose message repeats the request line, which
    may carry ?token=; a thousand bad requests must neither fill stderr nor copy a secret into the journal.
    """

    def __init__(self, emit: Callable[[str], None], burst: int = 5, window: float = 60.0) -> None:
        super().__init__(logging.DEBUG)
        self.sink, self.burst, self.window = emit, burst, window
        self.times: Deque[float] = collections.deque()
        self.suppressed = 0

    def emit(self, record: logging.LogRecord) -> None:
        now = time.monotonic()
        while self.times and now - self.times[0] > self.window:
            self.times.popleft()
        if len(self.times) >= self.burst:
            self.suppressed += 1
            return
        self.times.append(now)
        kind = record.exc_info[1].__class__.__name__ if record.exc_info and record.exc_info[1] else record.levelname.lower()
        remote = record.args[0] if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str) else ""
        more = f"; {self.suppressed} more not shown" if self.suppressed else ""
        self.suppressed = 0
        self.sink(f"web: refused a malformed or failed request{' from ' + remote if remote else ''} ({kind}){more}")


def server_logger(name: str, emit: Callable[[str], None]) -> logging.Logger:
    """A private logger for one server (not propagated to the root logger) that writes through OneLineLog."""
    logger = logging.getLogger(f"edgeunet.web.{name}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)  # aiohttp reports a first malformed request at debug level: still one line
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(OneLineLog(emit))
    return logger


class Slot:
    """One long-lived response (a video viewer, an /events subscriber): its socket and since when a write is stuck."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.stuck_since: Optional[float] = None


def _small_buffers(transport: Any, size: int) -> None:
    """Bound what the kernel and asyncio buffer for one long-lived response, so a reader that stops is seen stuck at once.

    Why: with the default (auto-tuned, megabytes) send buffer a viewer that never reads keeps accepting
    frames for seconds, and its slot looks healthy all that time.
    """
    if transport is None or size <= 0:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
    with contextlib.suppress(AttributeError, ValueError):
        transport.set_write_buffer_limits(high=size)


class Slots:
    """At most `limit` long-lived responses; a socket that stops reading loses its slot to a newcomer or to the clock.

    Why both: `write_timeout` frees a slot whose client went silent even when nobody else wants it; a
    newcomer may take the slot of one stuck for `stall_evict` seconds at once, so idle subscribers cannot
    keep a viewer who reads out for the whole timeout.
    """

    def __init__(self, limit: int, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.limits, self.clock = limit, limits, clock
        self.held: Dict[Slot, None] = {}

    def __len__(self) -> int:
        return len(self.held)

    def take(self, transport: Any, buffer: int = 0) -> Optional[Slot]:
        """A slot, or None when all are held by readers; `buffer`: bytes to buffer for it (0: the system's default)."""
        if len(self.held) >= self.limit and not self._evict_stalled():
            return None
        _small_buffers(transport, buffer)
        slot = Slot(transport)
        self.held[slot] = None
        return slot

    def _evict_stalled(self) -> bool:
        now = self.clock()
        stuck = [s for s in self.held if s.stuck_since is not None and now - s.stuck_since >= self.limits.stall_evict]
        if not stuck:
            return False
        victim = min(stuck, key=lambda s: s.stuck_since or 0.0)
        self.drop(victim)
        return True

    def drop(self, slot: Slot) -> None:
        """Free the slot and cut its connection (its handler sees a closed transport and ends)."""
        self.held.pop(slot, None)
        if slot.transport is not None and not slot.transport.is_closing():
            slot.transport.abort()

    def release(self, slot: Slot) -> None:
        self.held.pop(slot, None)

    async def send(self, slot: Slot, write: Awaitable[Any]) -> bool:
        """Await one write under `write_timeout`; False (and the slot dropped) when it timed out or the peer left."""
        if slot not in self.held:
            close = getattr(write, "close", None)
            if close is not None:
                close()  # a coroutine that will never run: no "never awaited" warning
            return False
        slot.stuck_since = self.clock()
        try:
            await asyncio.wait_for(write, self.limits.write_timeout)
        except (asyncio.TimeoutError, ConnectionError):
            self.drop(slot)
            return False
        slot.stuck_since = None
        return slot in self.held


async def wait_event(event: Optional[asyncio.Event], timeout: float) -> None:
    """Until the next frame (or shutdown) is announced, at most `timeout` seconds."""
    if event is not None:
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass


async def take_soon(slots: Slots, transport: Any, buffer: int, wait: float = 1.0) -> Optional[Slot]:
    """A viewer slot now, or within `wait` seconds as soon as a stuck viewer may be pushed out (else None: 503)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + wait
    slot = slots.take(transport, buffer)
    while slot is None and loop.time() < end:
        await asyncio.sleep(0.1)
        slot = slots.take(transport, buffer)
    return slot
