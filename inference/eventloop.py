"""A small event loop for the server's worker processes: readiness, timers and signals.

Why not asyncio: a worker needs only readiness callbacks per socket, a few timers and SIGTERM,
and under load asyncio's selector loop costs about 8 µs of Python per request (a Handle per
event, the loop's and the transport's bookkeeping), measured when this was built by putting
the same do-nothing server on each loop with the same busy work per request. That is a fifth
of a whole single-row request. It polls with epoll on Linux (the image, and these
benchmarks) and with poll(2) elsewhere, so local mode runs on a Mac too.

Callbacks run one at a time on the loop's thread. One that raises is logged with its
traceback and the loop goes on: a bug in one connection must not take the worker down.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import select
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("inference")

# poll(2)'s event bits, which epoll's equal on Linux.
READ = select.POLLIN
WRITE = select.POLLOUT
# Either way an error or hang-up is reported; the handler's next read or write sees it.
CLOSED = select.POLLERR | select.POLLHUP
# epoll only: for a listening socket shared by workers, wake one of them per connection, not all.
EXCLUSIVE: int = getattr(select, "EPOLLEXCLUSIVE", 0)

EventHandler = Callable[[int], None]


class _Poll:
    """poll(2) behind epoll's interface: timeouts in seconds, -1 to wait for ever."""

    def __init__(self) -> None:
        self._poll = select.poll()

    def register(self, fd: int, events: int) -> None:
        self._poll.register(fd, events & ~EXCLUSIVE)

    def modify(self, fd: int, events: int) -> None:
        self._poll.modify(fd, events & ~EXCLUSIVE)

    def unregister(self, fd: int) -> None:
        self._poll.unregister(fd)

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        return self._poll.poll(None if timeout < 0 else math.ceil(timeout * 1000))

    def close(self) -> None:
        pass


class Timer:
    """A callback due at `when` (loop time); `cancel()` before then and it never runs."""

    __slots__ = ("_loop", "callback", "cancelled", "when")

    def __init__(self, loop: EventLoop, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self._loop = loop

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self._loop._timer_cancelled()

    def __lt__(self, other: Timer) -> bool:
        return self.when < other.when


class EventLoop:
    def __init__(self, portable: bool = False) -> None:
        """`portable` polls with poll(2) even where epoll exists (the tests use it to run the
        path other systems take)."""
        self._poller: select.epoll | _Poll = (
            select.epoll() if hasattr(select, "epoll") and not portable else _Poll()
        )
        self._handlers: dict[int, EventHandler] = {}
        self._timers: list[Timer] = []
        self._cancelled_timers = 0
        self._after_events: list[Callable[[], None]] = []
        self._running = False
        self._signal_callbacks: dict[int, Callable[[], None]] = {}
        self._signals_received: list[int] = []
        # A signal makes Python write its number here, which wakes a sleeping poll(); the
        # callback then runs on the loop, not inside the signal handler.
        self._wakeup_reader, self._wakeup_writer = socket.socketpair()
        self._wakeup_reader.setblocking(False)
        self._wakeup_writer.setblocking(False)
        self.watch(self._wakeup_reader.fileno(), READ, self._on_wakeup)

    @staticmethod
    def time() -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(self, time.monotonic() + delay, callback)
        heapq.heappush(self._timers, timer)
        return timer

    def _timer_cancelled(self) -> None:
        # Every connection has a timer, cancelled when it closes: without pruning, a stream
        # of short connections would pile up dead timers until each came due.
        self._cancelled_timers += 1
        if self._cancelled_timers > 256 and self._cancelled_timers > len(self._timers) // 2:
            self._timers[:] = [timer for timer in self._timers if not timer.cancelled]
            heapq.heapify(self._timers)
            self._cancelled_timers = 0

    def after_events(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the events of this poll are handled (before the next poll)."""
        self._after_events.append(callback)

    # -- file descriptors -----------------------------------------------------------------------

    def watch(self, fd: int, events: int, handler: EventHandler) -> None:
        """Call `handler(events)` whenever `fd` is ready for `events` (level-triggered)."""
        self._poller.register(fd, events)
        self._handlers[fd] = handler

    def modify(self, fd: int, events: int) -> None:
        self._poller.modify(fd, events)

    def unwatch(self, fd: int) -> None:
        """Forget `fd`; call it before the file descriptor is closed."""
        if self._handlers.pop(fd, None) is not None:
            with contextlib.suppress(OSError, ValueError, KeyError):
                self._poller.unregister(fd)

    # -- signals --------------------------------------------------------------------------------

    def add_signal_handler(self, signum: int, callback: Callable[[], None]) -> None:
        self._signal_callbacks[signum] = callback
        signal.set_wakeup_fd(self._wakeup_writer.fileno(), warn_on_full_buffer=False)
        signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals_received.append(signum)

    def _on_wakeup(self, _events: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wakeup_reader.recv(4096):
                pass
        received, self._signals_received = self._signals_received, []
        for signum in received:
            self._signal_callbacks[signum]()

    # -- running --------------------------------------------------------------------------------

    def run(self) -> None:
        """Dispatch events and timers until `stop()`."""
        self._running = True
        poll = self._poller.poll
        handlers = self._handlers
        timers = self._timers
        after_events = self._after_events
        while self._running:
            if after_events:
                timeout = 0.0
            elif timers:
                timeout = max(0.0, timers[0].when - time.monotonic())
            else:
                timeout = -1.0
            for fd, events in poll(timeout):
                handler = handlers.get(fd)
                if handler is None:
                    continue  # unwatched by an earlier callback in this same batch
                try:
                    handler(events)
                except Exception:
                    log.exception("event handler failed", extra={"fd": fd})
            if after_events:
                self._run_after_events()
            if timers and timers[0].when <= time.monotonic():
                self._run_due_timers()

    def stop(self) -> None:
        self._running = False

    def close(self) -> None:
        if self._signal_callbacks:
            signal.set_wakeup_fd(-1)
        self._poller.close()
        self._wakeup_reader.close()
        self._wakeup_writer.close()

    def _run_after_events(self) -> None:
        callbacks = self._after_events[:]
        self._after_events.clear()
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("callback failed")

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        timers = self._timers
        while timers and timers[0].when <= now:
            timer = heapq.heappop(timers)
            if timer.cancelled:
                self._cancelled_timers -= 1
                continue
            timer.cancelled = True  # run once; a late cancel() is a no-op
            try:
                timer.callback()
            except Exception:
                log.exception("timer callback failed")
