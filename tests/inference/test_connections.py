"""How the server treats connections, over real sockets: keep-alive, pipelining, slow and
vanishing clients, read timeouts, large answers to slow readers, and shutdown with idle
connections open. uvicorn does the HTTP; these hold it to what docs/inference.md promises."""

from __future__ import annotations

import json
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable

import pytest

from tests.inference.conftest import RunningServer, TrainedModel, start_server

Serve = Callable[..., RunningServer]


def _post(body: bytes, *, close: bool = False) -> bytes:
    return (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        + (b"Connection: close\r\n" if close else b"")
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


def _read_responses(connection: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """`count` HTTP responses read off one connection: (status, body) each, in order."""
    buffer = bytearray()
    answers: list[tuple[int, bytes]] = []
    while len(answers) < count:
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += _receive(connection)
        head = buffer[:end].decode("latin-1")
        length = int(head.lower().split("content-length:", 1)[1].split("\r\n", 1)[0])
        del buffer[: end + 4]
        while len(buffer) < length:
            buffer += _receive(connection)
        answers.append((int(head.split(" ", 2)[1]), bytes(buffer[:length])))
        del buffer[:length]
    return answers


def _receive(connection: socket.socket) -> bytes:
    chunk = connection.recv(1 << 20)
    assert chunk, "the server closed the connection before answering"
    return chunk


def _rows(model: TrainedModel, count: int) -> bytes:
    return model.features.head(count).to_csv(index=False, header=False).encode()


def _closed_by_server(connection: socket.socket, within: float) -> bool:
    connection.settimeout(within)
    try:
        while connection.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


@pytest.fixture
def binary_model(models: dict[str, TrainedModel]) -> TrainedModel:
    return models["binary"]


def test_keep_alive_and_pipelined_requests_are_answered_in_order(
    binary_model: TrainedModel, serve: Serve
) -> None:
    server = serve(binary_model.base)
    one, three = _rows(binary_model, 1), _rows(binary_model, 3)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        # Three requests in one write, the middle one bad: each gets its own answer, in order.
        connection.sendall(_post(three) + _post(b"1,2") + _post(one))
        answers = _read_responses(connection, 3)
        assert [status for status, _ in answers] == [200, 400, 200]
        assert len(json.loads(answers[0][1])["predictions"]) == 3
        assert len(json.loads(answers[2][1])["predictions"]) == 1
        # The same connection serves on, one byte at a time too.
        for byte in _post(one):
            connection.send(bytes([byte]))
        assert _read_responses(connection, 1)[0][0] == 200


def test_connection_close_is_honoured(binary_model: TrainedModel, serve: Serve) -> None:
    server = serve(binary_model.base)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(_post(_rows(binary_model, 1), close=True))
        assert _read_responses(connection, 1)[0][0] == 200
        assert _closed_by_server(connection, within=5)


def test_a_request_that_stalls_gets_408_and_an_idle_connection_is_closed(
    binary_model: TrainedModel, serve: Serve
) -> None:
    server = serve(binary_model.base, environment={"SAGEMAKER_MODEL_SERVER_TIMEOUT": "0.5"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stalled:
        stalled.sendall(_post(_rows(binary_model, 1))[:-10])
        started = time.monotonic()
        status, body = _read_responses(stalled, 1)[0]
        assert status == 408
        assert json.loads(body)["error"]["code"] == "request_timeout"
        assert 0.4 <= time.monotonic() - started < 5
        assert _closed_by_server(stalled, within=5)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        idle.sendall(_post(_rows(binary_model, 1)))
        assert _read_responses(idle, 1)[0][0] == 200
        assert _closed_by_server(idle, within=5)
    # Activity keeps a connection open past the timeout.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as busy:
        for _ in range(8):
            busy.sendall(_post(_rows(binary_model, 1)))
            assert _read_responses(busy, 1)[0][0] == 200
            time.sleep(0.15)


def test_large_answers_reach_a_slow_reader_whole(binary_model: TrainedModel, serve: Serve) -> None:
    """More predictions than the kernel's socket buffers hold (about 8 MB, pipelined) to a client
    that does not read yet: the server keeps what the socket will not take, serves others
    meanwhile, and every answer arrives complete and in order."""
    server = serve(binary_model.base)
    rows = _rows(binary_model, len(binary_model.features))
    body = rows * (5_000_000 // len(rows))
    count = body.count(b"\n")
    requests = 4
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as slow:
        # The client sends from a thread, as a pipelining client must: a server whose
        # answers are not being read stops reading further requests.
        sender = threading.Thread(target=slow.sendall, args=(_post(body) * requests,))
        sender.start()
        time.sleep(1.5)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as other:
            other.sendall(_post(_rows(binary_model, 1)))
            assert _read_responses(other, 1)[0][0] == 200
        answers = _read_responses(slow, requests)
        sender.join(30)
    assert [status for status, _ in answers] == [200] * requests
    assert all(len(json.loads(answer)["predictions"]) == count for _, answer in answers)
    assert sum(len(answer) for _, answer in answers) > 6_000_000


def test_clients_that_vanish_leave_the_server_healthy(
    binary_model: TrainedModel, serve: Serve
) -> None:
    server = serve(binary_model.base)
    big = _rows(binary_model, len(binary_model.features)) * 50
    for payload in (_post(big)[:5000], _post(big), b"POST /invocations HTTP/1.1\r\n"):
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        connection.sendall(payload)
        # A reset instead of a clean close, while the server may be reading or writing.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(_post(_rows(binary_model, 2)))
        assert _read_responses(connection, 1)[0][0] == 200
    assert not [r for r in server.log_records() if r.get("level") == "ERROR"]


def test_sigterm_closes_idle_connections_and_exits_promptly(
    binary_model: TrainedModel, serve: Serve
) -> None:
    server = serve(binary_model.base, workers=2)
    idle = []
    for _ in range(4):
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        connection.sendall(_post(_rows(binary_model, 1)))
        assert _read_responses(connection, 1)[0][0] == 200
        idle.append(connection)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(10) == 0
    assert time.monotonic() - started < 3
    for connection in idle:
        assert _closed_by_server(connection, within=2)
        connection.close()


def test_sigterm_while_the_workers_start_stops_them_promptly(
    binary_model: TrainedModel,
) -> None:
    """SIGTERM as the workers boot (a deployment stopped at once, a replaced worker): a worker
    that got it before uvicorn installed its own handler used to ignore it, and the arbiter
    waited its whole 25 s graceful timeout before killing it."""
    running = start_server(binary_model.base, workers=4)
    # The arbiter handles signals once it spawns workers: stop it as the first one boots.
    running.wait_for_log(lambda r: str(r.get("message", "")).startswith("Booting worker"))
    started = time.monotonic()
    try:
        assert running.stop(timeout=20) == 0
    finally:
        running.close()
    assert time.monotonic() - started < 8
