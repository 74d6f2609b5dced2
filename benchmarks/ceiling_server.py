"""The ceiling: a do-nothing HTTP server that answers every request with an empty 200.

No parsing beyond finding the end of each request's head: the most requests per second a
single Python process on this machine can answer, the bound any real server sits under.
"""

from __future__ import annotations

import asyncio
import sys

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class _Ping(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        requests = self._buffer.count(b"\r\n\r\n")
        if requests:
            self._buffer = self._buffer[self._buffer.rfind(b"\r\n\r\n") + 4 :]
            self._transport.write(_RESPONSE * requests)


async def _serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_Ping, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
