"""A small HTTP/1.1 server protocol: just what SageMaker hosting speaks.

Keep-alive and pipelined requests, bodies by Content-Length or chunked transfer encoding,
a payload limit enforced before the body is buffered, a read timeout, and a drain mode that
finishes the request in hand and then closes. The handler is a plain function from Request
to Response: routing and content live in `inference.app`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from inference.eventloop import EventLoop, Timer
from inference.transport import Connection

MAX_HEADER_BYTES = 65_536
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    411: "Length Required",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}


@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]
# Turns a protocol-level failure (bad framing, too large, too slow) into a Response.
ErrorResponder = Callable[[int, str, str], Response]


class HttpProtocol:
    def __init__(
        self,
        loop: EventLoop,
        handler: Handler,
        on_error: ErrorResponder,
        max_body_bytes: int,
        timeout_seconds: float,
        connections: set[HttpProtocol],
    ) -> None:
        self._handler = handler
        self._on_error = on_error
        self._max_body = max_body_bytes
        self._timeout = timeout_seconds
        self._connections = connections
        self._loop = loop
        self._buffer = bytearray()
        self._transport: Connection | None = None
        self._timer: Timer | None = None
        # Read-timeout bookkeeping: one timer per connection, re-armed only when it fires,
        # because re-arming it for every request costs more than parsing the request.
        self._last_activity = 0.0
        self._draining = False
        self._closed = False
        # After an early 413: request bytes still to read and drop before closing, so the
        # client, still sending, reads our answer instead of a connection reset.
        self._discard = 0

    # -- transport callbacks ----------------------------------------------------------------

    def connection_made(self, transport: Connection) -> None:
        self._transport = transport
        self._connections.add(self)
        self._last_activity = self._loop.time()
        self._timer = self._loop.call_later(self._timeout, self._check_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()

    def data_received(self, data: bytes) -> None:
        if self._discard:
            self._discard = max(0, self._discard - len(data))
            if not self._discard:
                self._close()
            return
        self._buffer += data
        self._last_activity = self._loop.time()
        while not self._closed and self._buffer:
            request = self._next_request()
            if request is None:
                return
            keep_alive = _keep_alive(request) and not self._draining
            self._send(self._handler(request), keep_alive)
            if not keep_alive:
                self._close()
                return
        if self._draining and not self._buffer:
            self._close()

    # -- shutdown ---------------------------------------------------------------------------

    def drain(self) -> None:
        """Finish a request in hand, then close; an idle connection closes now."""
        self._draining = True
        if not self._buffer:
            self._close()

    # -- framing ------------------------------------------------------------------------------

    def _next_request(self) -> Request | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                self._fail(431, "headers_too_large", "the request headers are too large")
            return None
        try:
            head = bytes(self._buffer[:end]).decode("latin-1")
            method, path, version, headers = _parse_head(head)
        except ValueError as error:
            self._fail(400, "malformed_request", str(error))
            return None
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            self._fail(505, "http_version", f"{version} is not supported")
            return None
        body_start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, consumed = self._chunked_body(body_start)
            if body is None:
                return None
        else:
            length_text = headers.get("content-length", "0").strip() or "0"
            if not length_text.isdigit():
                self._fail(400, "malformed_request", "Content-Length is not a number")
                return None
            length = int(length_text)
            if length > self._max_body:
                self._too_large(length, unread=length - (len(self._buffer) - body_start))
                return None
            if len(self._buffer) - body_start < length:
                return None
            body = bytes(self._buffer[body_start : body_start + length])
            consumed = body_start + length
        del self._buffer[:consumed]
        return Request(method, path, headers, body)

    def _chunked_body(self, start: int) -> tuple[bytes | None, int]:
        chunks: list[bytes] = []
        size_total = 0
        position = start
        while True:
            line_end = self._buffer.find(b"\r\n", position)
            if line_end < 0:
                return None, 0
            size_text = bytes(self._buffer[position:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                self._fail(400, "malformed_request", "malformed chunk size")
                return None, 0
            size_total += size
            if size_total > self._max_body:
                self._too_large(size_total)
                return None, 0
            data_start = line_end + 2
            if size == 0:
                trailer_end = self._buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    return None, 0
                return b"".join(chunks), trailer_end + 4
            if len(self._buffer) < data_start + size + 2:
                return None, 0
            chunks.append(bytes(self._buffer[data_start : data_start + size]))
            position = data_start + size + 2

    # -- output -------------------------------------------------------------------------------

    def _send(self, response: Response, keep_alive: bool) -> None:
        if self._transport is None or self._closed:
            return
        body = response.body
        head = _head_start(response.status, response.content_type) + b"%d\r\n" % len(body)
        for name, value in response.headers.items():
            head += f"{name}: {value}\r\n".encode("latin-1")
        if not keep_alive:
            head += b"Connection: close\r\n"
        head += b"\r\n"
        if len(body) < 65_536:
            self._transport.write(head + body)
        else:
            self._transport.write(head)
            self._transport.write(body)

    def _fail(self, status: int, code: str, message: str, unread: int = 0) -> None:
        self._send(self._on_error(status, code, message), keep_alive=False)
        if unread > 0:
            self._buffer.clear()
            self._discard = unread
            return
        self._close()

    def _too_large(self, length: int, unread: int = 0) -> None:
        self._fail(
            413,
            "payload_too_large",
            f"the body has {length} bytes; the limit is {self._max_body}",
            unread,
        )

    def _close(self) -> None:
        if not self._closed and self._transport is not None:
            self._closed = True
            self._buffer.clear()
            self._transport.close()

    def _check_timeout(self) -> None:
        if self._closed:
            return
        idle = self._loop.time() - self._last_activity
        if idle < self._timeout:
            self._timer = self._loop.call_later(self._timeout - idle, self._check_timeout)
        else:
            self._timed_out()

    def _timed_out(self) -> None:
        if self._closed:
            return
        if self._discard:
            self._close()
        elif self._buffer:
            self._fail(408, "request_timeout", "the request did not arrive in time")
        else:
            self._close()


_HEAD_STARTS: dict[tuple[int, str | None], bytes] = {}


def _head_start(status: int, content_type: str | None) -> bytes:
    """The status line, Content-Type and `Content-Length: ` of a response, built once each."""
    key = (status, content_type)
    start = _HEAD_STARTS.get(key)
    if start is None:
        text = f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
        if content_type:
            text += f"Content-Type: {content_type}\r\n"
        start = _HEAD_STARTS[key] = (text + "Content-Length: ").encode("latin-1")
    return start


def _parse_head(head: str) -> tuple[str, str, str, dict[str, str]]:
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ValueError(f"malformed request line {lines[0][:100]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, separator, value = line.partition(":")
        if not separator or not name or name != name.strip():
            raise ValueError(f"malformed header line {line[:100]!r}")
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    path = target.split("?", 1)[0]
    return method, path, version, headers


def _keep_alive(request: Request) -> bool:
    connection = request.headers.get("connection", "").lower()
    return "close" not in connection
