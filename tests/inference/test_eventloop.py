"""The worker's event loop and sockets, in-process, on real socket pairs.

Every test runs on both pollers: epoll, which Linux and the image use, and poll(2), which
local mode uses on systems without epoll (macOS)."""

from __future__ import annotations

import errno
import logging
import os
import select
import signal
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from inference.eventloop import READ, EventLoop
from inference.transport import ACCEPT_PAUSE_SECONDS, Connection, Listener


@pytest.fixture(params=["epoll", "poll"])
def loop(request: pytest.FixtureRequest) -> Iterator[EventLoop]:
    event_loop = EventLoop(portable=request.param == "poll")
    yield event_loop
    event_loop.close()


def run_for(loop: EventLoop, seconds: float) -> None:
    """Run the loop until `seconds` have passed (a safety net: tests stop it sooner)."""
    loop.call_later(seconds, loop.stop)
    loop.run()


class Recorder:
    """A protocol that keeps what it receives and how the connection ended."""

    def __init__(self) -> None:
        self.transport: Connection | None = None
        self.received = b""
        self.lost: list[Exception | None] = []

    def connection_made(self, transport: Connection) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, error: Exception | None) -> None:
        self.lost.append(error)


def test_timers_run_in_order_and_cancelled_ones_never(loop: EventLoop) -> None:
    ran: list[str] = []
    loop.call_later(0.03, lambda: ran.append("third"))
    loop.call_later(0.01, lambda: ran.append("first"))
    loop.call_later(0.02, lambda: ran.append("second")).cancel()
    loop.call_later(0.015, lambda: ran.append("between"))
    loop.call_later(0.05, loop.stop)
    loop.run()
    assert ran == ["first", "between", "third"]


def test_cancelled_timers_do_not_pile_up(loop: EventLoop) -> None:
    # One timer per connection, cancelled when it closes: a long run of short connections.
    for _ in range(10_000):
        loop.call_later(3600, lambda: None).cancel()
    assert len(loop._timers) < 1_000


def test_after_events_callbacks_run_before_the_loop_sleeps(loop: EventLoop) -> None:
    ran: list[str] = []

    def later() -> None:
        ran.append("after events")
        loop.stop()

    loop.call_later(0, lambda: loop.after_events(later))
    loop.call_later(5, loop.stop)
    loop.run()
    assert ran == ["after events"]


def test_a_failing_callback_is_logged_and_the_loop_goes_on(
    loop: EventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = socket.socketpair()
    ran: list[str] = []

    def broken(_events: int) -> None:
        loop.unwatch(reader.fileno())
        raise RuntimeError("a bug")

    def boom() -> None:
        raise RuntimeError("a timer bug")

    loop.watch(reader.fileno(), READ, broken)
    writer.send(b"x")
    loop.call_later(0, boom)
    loop.call_later(0.02, lambda: ran.append("still running"))
    with caplog.at_level(logging.ERROR, logger="inference"):
        run_for(loop, 0.05)
    assert ran == ["still running"]
    assert sorted(caplog.messages) == ["event handler failed", "timer callback failed"]
    assert all(record.exc_info for record in caplog.records)  # with their tracebacks
    reader.close()
    writer.close()


def test_a_signal_runs_its_callback_on_the_loop(loop: EventLoop) -> None:
    received: list[str] = []
    previous = signal.getsignal(signal.SIGUSR1)
    try:

        def on_signal() -> None:
            received.append("SIGUSR1")
            loop.stop()

        loop.add_signal_handler(signal.SIGUSR1, on_signal)
        # Sent while the loop sleeps in poll with no timer due for a minute: it must wake.
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        loop.call_later(60, loop.stop)
        loop.run()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert received == ["SIGUSR1"]


def _pair(loop: EventLoop) -> tuple[Connection, Recorder, socket.socket]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    protocol = Recorder()
    return Connection(loop, ours, protocol), protocol, theirs


def _read_all(sock: socket.socket, into: list[bytes]) -> None:
    while chunk := sock.recv(1 << 20):
        into.append(chunk)


def test_writes_larger_than_the_socket_takes_arrive_whole_and_close_waits_for_them(
    loop: EventLoop,
) -> None:
    connection, protocol, client = _pair(loop)
    payload = os.urandom(8 << 20)
    connection.write(payload[: 1 << 20])
    connection.write(payload[1 << 20 :])
    connection.close()
    run_for(loop, 0.2)  # the client reads nothing yet: the socket fills, the rest waits
    assert not connection.closed
    received: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(client, received))
    reader.start()
    while not connection.closed:
        run_for(loop, 0.05)
    reader.join(10)
    assert b"".join(received) == payload
    assert protocol.lost == [None]
    client.close()


def test_data_and_end_of_stream_reach_the_protocol(loop: EventLoop) -> None:
    connection, protocol, client = _pair(loop)
    client.sendall(b"hello ")
    client.sendall(b"world")
    client.shutdown(socket.SHUT_WR)
    run_for(loop, 0.05)
    assert protocol.received == b"hello world"
    assert connection.closed
    assert protocol.lost == [None]
    client.close()


def test_a_reset_closes_the_connection_with_the_error(loop: EventLoop) -> None:
    listening = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listening.getsockname())
    ours, _ = listening.accept()
    ours.setblocking(False)
    protocol = Recorder()
    connection = Connection(loop, ours, protocol)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    run_for(loop, 0.05)
    assert connection.closed
    assert len(protocol.lost) == 1
    assert isinstance(protocol.lost[0], ConnectionResetError)
    listening.close()


def test_abort_drops_what_is_unsent(loop: EventLoop) -> None:
    connection, protocol, client = _pair(loop)
    connection.write(b"never sent")
    connection.abort()
    run_for(loop, 0.02)
    client.settimeout(1)
    assert client.recv(100) == b""
    assert protocol.lost == [None]
    client.close()


class _OutOfDescriptors(socket.socket):
    """A listening socket whose first accept fails as if the process had no fds left."""

    failures = 1

    def accept(self) -> tuple[socket.socket, object]:
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return super().accept()


def test_the_listener_pauses_when_out_of_descriptors_then_accepts_again(
    loop: EventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    listening = _OutOfDescriptors(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    listening.setblocking(False)
    accepted: list[socket.socket] = []

    def on_connection(sock: socket.socket) -> None:
        accepted.append(sock)
        loop.stop()

    listener = Listener(loop, listening, on_connection)
    client = socket.create_connection(listening.getsockname())
    loop.call_later(ACCEPT_PAUSE_SECONDS + 5, loop.stop)
    with caplog.at_level(logging.WARNING, logger="inference"):
        loop.run()
    assert len(accepted) == 1
    assert "cannot accept connections for now; pausing" in caplog.messages
    assert accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    accepted[0].close()
    client.close()
    listener.close()


def test_epoll_where_linux_has_it_and_poll_when_asked() -> None:
    default, portable = EventLoop(), EventLoop(portable=True)
    try:
        assert isinstance(default._poller, select.epoll)
        assert not isinstance(portable._poller, select.epoll)
    finally:
        default.close()
        portable.close()
