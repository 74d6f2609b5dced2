"""uvicorn's httptools (llhttp) protocol, with the limits SageMaker hosting needs and uvicorn
does not have.

llhttp does the parsing and refuses what is malformed or ambiguous (a bad chunk size, a
Content-Length that is not a number, both Content-Length and Transfer-Encoding, a bare LF, an
unknown HTTP version). This subclass adds, per connection:
- a total deadline for each request to arrive, head and body (a client trickling bytes gets a
  408 and is closed), and an idle deadline for a connection that never sends a request;
- a limit on the size of a request's head, trailers included (431);
- a write timeout: a client that stops reading our answer is dropped;
- JSON error bodies for what the parser refuses, counted in the worker's summary line like
  every other answer (uvicorn's own is a plain-text 400 that nothing counts).

The hooks used (data_received, on_message_begin/complete, on_url/on_header, pause_writing,
resume_writing, connection_made/lost) are uvicorn's asyncio.Protocol and httptools callback
interface; the attributes (transport, loop, cycle, config) are uvicorn's own, pinned by the
lock file and exercised by tests/inference/test_http.py over real sockets.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from inference.app import App

# A request's line and headers (and trailers), in bytes: far more than any SageMaker client
# sends, small enough that a stream of headers cannot grow a worker's memory.
MAX_HEAD_BYTES = 65_536


_VERSIONS = frozenset({"1.0", "1.1"})


class _Refusal(Exception):
    """Raised from a parser callback to stop the parse and refuse the request."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class SageMakerProtocol(HttpToolsProtocol):
    # Set by inference.server before the workers start: the total time a request may take to
    # arrive (SAGEMAKER_MODEL_SERVER_TIMEOUT) and how long a write may stay blocked.
    request_timeout_seconds = 60.0
    write_timeout_seconds = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._write_deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._in_request = False
        # Whether the request being received has its head parsed (a cycle of its own).
        self._has_cycle = False
        # After a refused request behind pipelined ones: close once their answers are out.
        self._close_when_answered = False

    # -- connection -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn arms its keep-alive timer only after a response: a connection that never
        # sends a byte would otherwise stay open for ever.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadlines()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # No protocol upgrades (WebSocket, h2c): answer what was asked, then close, so
            # that no byte after the head is ever read as HTTP/1.1.
            if self.cycle is not None and not self.cycle.response_complete:
                self.cycle.keep_alive = False
            else:
                self.transport.close()
        except httptools.HttpParserError as error:
            # httptools wraps what a callback raised (our refusals) in a parser error.
            refusal = error.__cause__ or error.__context__
            if isinstance(refusal, _Refusal):
                self._refuse(refusal.status, refusal.code, refusal.message)
            else:
                self._refuse(400, "malformed_request", f"malformed HTTP request: {error}")

    # -- parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_request = True
        self._has_cycle = False
        self._head_bytes = 0
        self._arm_deadline()

    def on_headers_complete(self) -> None:
        version = self.parser.get_http_version()
        if version not in _VERSIONS:
            # A client fault, so a 4xx: a 505 would count against the endpoint's 5xx alarms.
            raise _Refusal(
                400, "unsupported_http_version", f"HTTP/{version} is not served; use HTTP/1.1"
            )
        if self.parser.should_upgrade() and self._declares_body():
            # llhttp hands everything after an upgrade request's head to the new protocol, so
            # its body would never reach the app, which would then see an empty body.
            raise _Refusal(
                400,
                "upgrade_not_supported",
                "protocol upgrades (h2c, WebSocket) are not served; send the request without "
                "an Upgrade header",
            )
        super().on_headers_complete()
        self._has_cycle = True

    def _declares_body(self) -> bool:
        for name, value in self.headers:
            if name == b"transfer-encoding" or (name == b"content-length" and value.strip(b"0")):
                return True
        return False

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_message_complete(self) -> None:
        self._in_request = False
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().on_message_complete()

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise _Refusal(
                431, "headers_too_large", f"the request head is over {MAX_HEAD_BYTES} bytes"
            )

    def on_response_complete(self) -> None:
        if self._close_when_answered and not self.pipeline:
            self.server_state.total_requests += 1
            self.transport.close()
            return
        super().on_response_complete()

    # -- deadlines --------------------------------------------------------------------------

    def _arm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.request_timeout_seconds, self._too_slow)

    def _too_slow(self) -> None:
        self._deadline = None
        if not self._in_request or self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.response_started:
            # Answered early (a 413) while the body still trickles in: just close.
            self.transport.close()
            return
        self._refuse(408, "request_timeout", "the request did not arrive in time")

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_deadline is None:
            self._write_deadline = self.loop.call_later(
                self.write_timeout_seconds, self._stalled_reader
            )

    def resume_writing(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None
        super().resume_writing()

    def _stalled_reader(self) -> None:
        self._write_deadline = None
        # The client has not read for a whole timeout: drop what is unsent.
        self.transport.abort()

    def _cancel_deadlines(self) -> None:
        for timer in (self._deadline, self._write_deadline):
            if timer is not None:
                timer.cancel()
        self._deadline = self._write_deadline = None

    # -- answers the app never sees ---------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "malformed_request", msg)

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer a request the parser or a deadline stopped, then close the connection."""
        self._in_request = False
        if self.transport.is_closing():
            return
        # self.app is the App itself: inference.server turns uvicorn's wrapping middleware off.
        response = cast(App, self.app).protocol_error(status, code, message)
        current = self.cycle if self._has_cycle else None
        if current is not None and current.response_started:
            self.transport.close()  # answered already (an early 413): nothing more to say
            return
        running = current is None and self.cycle is not None and not self.cycle.response_complete
        if self.pipeline or running:
            # Pipelined requests ahead of this one are still being answered: their answers go
            # first, then the connection closes; this request is counted but not answered.
            for queued in list(self.pipeline):
                if queued[0] is current:
                    self.pipeline.remove(queued)
            self._close_when_answered = True
            self.flow.pause_reading()
            return
        head = [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(response.body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + response.body)
        self.transport.close()
