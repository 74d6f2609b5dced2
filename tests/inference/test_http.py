"""The HTTP faults an adversarial probe found, each over real sockets against the real `serve`
process, with real clients too (httpx, requests, curl, ab).

Every case asserts what the server answers and that a hidden second request is never served;
timing bounds are generous functional limits (a fault used to take tens of seconds or never
end), not speed targets.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import requests

from tests.inference.conftest import RunningServer, TrainedModel, start_server

# Short, so that the deadline cases finish quickly.
REQUEST_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server(models: dict[str, TrainedModel]) -> Iterator[RunningServer]:
    running = start_server(
        models["binary"].base,
        environment={
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": str(REQUEST_TIMEOUT),
            "SAGESTACK_SUMMARY_INTERVAL_SECONDS": "0.5",
        },
    )
    yield running
    running.close()


@pytest.fixture(scope="module")
def row(models: dict[str, TrainedModel]) -> bytes:
    return models["binary"].features.head(1).to_csv(index=False, header=False).encode()


def _exchange(server: RunningServer, raw: bytes, wait: float = 10) -> bytes:
    """Send raw bytes, half-close, and read everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as connection:
        connection.sendall(raw)
        connection.shutdown(socket.SHUT_WR)
        return _read_to_end(connection)


def _read_to_end(connection: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := connection.recv(1 << 20):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


def _statuses(answer: bytes) -> list[int]:
    """The status of every response in a stream of them."""
    return [
        int(line.split(b" ")[1]) for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.")
    ]


def _error(answer: bytes) -> dict[str, str]:
    error: dict[str, str] = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    return error


def _healthy(server: RunningServer) -> bool:
    return httpx.get(f"http://127.0.0.1:{server.port}/ping", timeout=5).status_code == 200


def _post(body: bytes, content_type: str = "text/csv") -> bytes:
    return (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
        % (content_type.encode(), len(body))
        + body
    )


# -- framing the parser refuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n",
            "negative chunk size (was an endless loop)",
        ),
        (
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n\r\n",
            "non-ASCII length",
        ),
        (
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: "
            + b"9" * 5000
            + b"\r\n\r\n",
            "5000-digit length",
        ),
        (b"GET /ping HTTP/1.1\r\nBad Header\r\n\r\n", "header without a colon"),
        (b"GARBAGE\r\n\r\n", "no request line"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_malformed_framing_is_a_json_400_and_the_server_lives_on(
    server: RunningServer, raw: bytes, why: str
) -> None:
    answer = _exchange(server, raw)
    assert _statuses(answer) == [400], (why, answer[:300])
    assert b"content-type: application/json" in answer.lower()
    assert _error(answer)["code"] == "malformed_request"
    assert _healthy(server)


def test_unsupported_http_versions_are_a_4xx_not_a_server_error(server: RunningServer) -> None:
    answer = _exchange(server, b"GET /ping HTTP/2.0\r\nHost: x\r\n\r\n")
    assert _statuses(answer) == [400], answer[:300]
    assert _error(answer)["code"] == "unsupported_http_version"
    summary = server.wait_for_log(
        lambda r: "unsupported_http_version" in r.get("schema_violations", {})
    )
    assert summary["server_errors"] == 0
    assert summary["client_errors"] >= 1


@pytest.mark.parametrize(
    "raw",
    [
        # A bare LF inside a header value hides a Transfer-Encoding header from a lenient parser.
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nX: a\nTransfer-Encoding: "
        b"chunked\r\n\r\n23\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n",
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"
        b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked"
        b"\r\nConnection: keep-alive\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["bare LF in a header value", "xchunked", "Content-Length and Transfer-Encoding"],
)
def test_desync_attempts_never_serve_a_hidden_request(server: RunningServer, raw: bytes) -> None:
    answer = _exchange(server, raw)
    # One refusal, then the connection is closed: /smuggled is never answered (it would be a 404).
    assert _statuses(answer) == [400], answer[:300]
    assert b"not_found" not in answer
    assert _healthy(server)


def test_a_head_over_64_kib_is_431(server: RunningServer) -> None:
    answer = _exchange(
        server, b"GET /ping HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70_000 + b"\r\n\r\n"
    )
    assert _statuses(answer) == [431]
    assert _error(answer)["code"] == "headers_too_large"


def test_endless_trailers_are_cut_at_the_head_limit(server: RunningServer, row: bytes) -> None:
    chunked = b"%x\r\n%s\r\n0\r\n" % (len(row), row)
    trailers = b"".join(b"X-T%d: %s\r\n" % (i, b"v" * 1000) for i in range(100))
    answer = _exchange(
        server,
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked + trailers + b"\r\n",
    )
    assert _statuses(answer) == [431], answer[:300]


def test_an_overlong_chunk_size_line_is_refused(server: RunningServer) -> None:
    answer = _exchange(
        server,
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + b"1" * 5000 + b"\r\nx\r\n0\r\n\r\n",
    )
    assert _statuses(answer) == [400], answer[:300]


def test_one_byte_chunks_are_parsed_once(server: RunningServer, row: bytes) -> None:
    """A body of 1-byte chunks used to be re-parsed from the start on every read (4 MiB: 15 s)."""
    body = row * (200_000 // len(row))
    chunks = b"".join(b"1\r\n%c\r\n" % byte for byte in body)
    started = time.monotonic()
    answer = _exchange(
        server,
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n",
    )
    assert _statuses(answer) == [200], answer[:300]
    assert len(json.loads(answer.split(b"\r\n\r\n", 1)[1])["predictions"]) == body.count(b"\n")
    assert time.monotonic() - started < REQUEST_TIMEOUT


# -- bodies the decoder refuses before parsing them ---------------------------------------------


def test_a_csv_line_of_a_million_commas_is_refused_unparsed(server: RunningServer) -> None:
    started = time.monotonic()
    answer = _exchange(server, _post(b"," * 1_000_000 + b"\n"))
    assert _statuses(answer) == [400]
    error = _error(answer)
    assert error["code"] == "wrong_feature_count"
    assert "row 1 has 1000001 values" in error["message"]
    # It took 76 s when the line was parsed into a frame first.
    assert time.monotonic() - started < REQUEST_TIMEOUT


def _npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((1, 30)))
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.npy", b"\x93NUMPY")
    return buffer.getvalue()


def _npy_declaring(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + b"\0" * 240


def _object_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([[1, "a"]], dtype=object), allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_npz(), "malformed_npy"),
        (_zip(), "malformed_npy"),
        (_npy_declaring((10**6, 10**6)), "malformed_npy"),
        (_npy_declaring((1, 30)), "malformed_npy"),  # 240 bytes where 240 are declared: fine
        (_object_npy(), "not_a_number"),
    ],
    ids=["npz", "zip", "10^12 values declared", "exact size", "object array (pickle)"],
)
def test_npy_bodies_must_be_a_plain_array_of_the_declared_size(
    server: RunningServer, body: bytes, code: str
) -> None:
    answer = _exchange(server, _post(body, "application/x-npy"))
    if body == _npy_declaring((1, 30)):
        assert _statuses(answer) == [200], answer[:300]
        return
    assert _statuses(answer) == [400], answer[:300]
    assert _error(answer)["code"] == code


# -- deadlines -----------------------------------------------------------------------------------


def test_a_request_trickling_in_gets_408_within_the_total_deadline(
    server: RunningServer, row: bytes
) -> None:
    """Slow-loris: a byte every 0.2 s keeps an idle timer alive for ever, not a total one."""
    raw = _post(row)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        started = time.monotonic()
        answer = b""
        for byte in raw:
            try:
                connection.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            connection.settimeout(0.2)
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                continue
            answer += chunk
            break
        connection.settimeout(5)
        answer += _read_to_end(connection)
        elapsed = time.monotonic() - started
    assert _statuses(answer) == [408], answer[:300]
    assert _error(answer)["code"] == "request_timeout"
    assert REQUEST_TIMEOUT - 0.1 <= elapsed < REQUEST_TIMEOUT + 3


def test_a_connection_that_never_sends_is_closed(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=REQUEST_TIMEOUT + 5) as idle:
        assert _read_to_end(idle) == b""


def test_a_client_that_stops_reading_is_dropped_after_the_write_timeout(
    server: RunningServer, models: dict[str, TrainedModel]
) -> None:
    body = models["binary"].features.to_csv(index=False, header=False).encode() * 20
    requests_sent = 60
    one_answer = len(_exchange(server, _post(body)))
    stalled = socket.socket()
    # A small receive window, set before connecting: the kernel cannot absorb the answers.
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.settimeout(30)
    stalled.connect(("127.0.0.1", server.port))
    with stalled:
        sender = threading.Thread(
            target=_ignore_errors, args=(stalled.sendall, _post(body) * requests_sent), daemon=True
        )
        sender.start()
        time.sleep(REQUEST_TIMEOUT * 2 + 1)
        received = _read_to_end(stalled)
    # Some answers got through before the client stopped reading; then it was dropped.
    assert len(received) < (requests_sent - 1) * one_answer
    assert _healthy(server)


def _ignore_errors(function: Callable[..., object], *arguments: object) -> None:
    with contextlib.suppress(OSError):  # the server may drop us mid-send: that is the point
        function(*arguments)


# -- real clients --------------------------------------------------------------------------------


def test_head_has_no_body_and_httpx_carries_on(server: RunningServer, row: bytes) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as client:
        head = client.head("/ping")
        assert (head.status_code, head.content) == (200, b"")
        answer = client.post("/invocations", content=row, headers={"Content-Type": "text/csv"})
        assert answer.status_code == 200
        assert len(answer.json()["predictions"]) == 1
    raw = _exchange(server, b"HEAD /execution-parameters HTTP/1.1\r\nHost: x\r\n\r\n")
    head_part, _, rest = raw.partition(b"\r\n\r\n")
    assert b" 200 " in head_part
    assert rest == b""


def test_requests_client(server: RunningServer, row: bytes) -> None:
    with requests.Session() as session:
        for _ in range(3):
            answer = session.post(
                f"http://127.0.0.1:{server.port}/invocations",
                data=row,
                headers={"Content-Type": "text/csv"},
                timeout=5,
            )
            assert answer.status_code == 200
            assert answer.json()["predictions"][0]["label"] in (0, 1)
        refused = session.post(
            f"http://127.0.0.1:{server.port}/invocations",
            data=b"1,2",
            headers={"Content-Type": "text/csv"},
            timeout=5,
        )
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "wrong_feature_count"


def test_http_1_0_closes_unless_asked_to_keep_alive(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
        # No half-close from us: the server closes by itself.
        answer = _read_to_end(connection)
    assert _statuses(answer) == [200]
    assert b"connection: close" in answer.lower()


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; `make test` installs it (Debian package)")
    return path


def test_curl_http_1_0(server: RunningServer, row: bytes) -> None:
    result = subprocess.run(
        [
            _tool("curl"),
            "-sS",
            "--http1.0",
            "-H",
            "Content-Type: text/csv",
            "--data-binary",
            row.decode(),
            f"http://127.0.0.1:{server.port}/invocations",
        ],
        capture_output=True,
        timeout=10,
        check=True,
    )
    assert len(json.loads(result.stdout)["predictions"]) == 1


def test_curl_2_mb_upload_gets_100_continue(
    server: RunningServer, models: dict[str, TrainedModel], tmp_path: Path
) -> None:
    features = models["binary"].features
    text = features.to_csv(index=False, header=False)
    body = text * (2_100_000 // len(text) + 1)
    path = tmp_path / "body.csv"
    path.write_text(body)
    result = subprocess.run(
        [
            _tool("curl"),
            "-sS",
            "-v",
            "-H",
            "Content-Type: text/csv",
            "--data-binary",
            f"@{path}",
            f"http://127.0.0.1:{server.port}/invocations",
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )
    # curl waits up to 1 s for this before sending a body over 1 MB; it arrives at once.
    assert b"HTTP/1.1 100 Continue" in result.stderr
    assert len(json.loads(result.stdout)["predictions"]) == body.count("\n")


def test_curl_http2_upgrade_is_refused_not_answered_with_an_empty_body(
    server: RunningServer, row: bytes
) -> None:
    """curl --http2 on http:// asks for an h2c upgrade. Without upgrades, a bodiless request is
    answered as HTTP/1.1; one with a body is refused, as its body would be lost."""
    url = f"http://127.0.0.1:{server.port}"
    ping = subprocess.run(
        [_tool("curl"), "-sS", "--http2", "-o", "/dev/null", "-w", "%{http_code}", f"{url}/ping"],
        capture_output=True,
        timeout=10,
        check=True,
    )
    assert ping.stdout == b"200"
    posted = subprocess.run(
        [
            _tool("curl"),
            "-sS",
            "--http2",
            "-H",
            "Content-Type: text/csv",
            "--data-binary",
            row.decode(),
            f"{url}/invocations",
        ],
        capture_output=True,
        timeout=10,
        check=True,
    )
    assert json.loads(posted.stdout)["error"]["code"] == "upgrade_not_supported"


def test_apache_bench(server: RunningServer) -> None:
    """ab speaks HTTP/1.0 and waits for the server to close each connection."""
    result = subprocess.run(
        [_tool("ab"), "-q", "-n", "300", "-c", "4", f"http://127.0.0.1:{server.port}/ping"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "Complete requests:      300" in result.stdout, result.stdout
    assert "Failed requests:        0" in result.stdout, result.stdout


# -- a worker that stops answering ---------------------------------------------------------------


def test_a_stopped_worker_is_replaced_and_ping_recovers(models: dict[str, TrainedModel]) -> None:
    running = start_server(
        models["binary"].base, environment={"SAGESTACK_WORKER_TIMEOUT_SECONDS": "2"}
    )
    try:
        booted = running.wait_for_log(
            lambda r: str(r.get("message", "")).startswith("Booting worker")
        )
        worker = int(str(booted["message"]).rsplit(" ", 1)[1])
        assert _healthy(running)
        os.kill(worker, signal.SIGSTOP)  # hung: alive, holding the socket, answering nothing
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"http://127.0.0.1:{running.port}/ping", timeout=0.5)
        started = time.monotonic()
        while time.monotonic() - started < 15:
            try:
                if httpx.get(f"http://127.0.0.1:{running.port}/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("/ping did not recover within 15 s of the worker hanging")
        running.wait_for_log(lambda r: "WORKER TIMEOUT" in str(r.get("message", "")))
        with pytest.raises(ProcessLookupError):
            os.kill(worker, 0)  # the hung worker was killed, not left behind
    finally:
        running.close()
