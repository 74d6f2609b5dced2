"""Our HTTP layer with no model work behind it: the fastest any request could be answered.

One worker of `serve` (the same event loop, connections, parsing, routing and response
writing), except that every POST to /invocations gets the answer the model gives the first
sample row, fixed, without reading the body. The inference benchmark runs it beside `serve` and
the do-nothing ceiling, which splits a single-row request's cost into what the HTTP layer costs
and what decoding, scoring and encoding cost.

    python benchmarks/http_floor_server.py MODEL_DIR PORT
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from inference.app import App
from inference.artifact import load_artifact
from inference.environment import ServerSettings
from inference.http import Request, Response
from inference.predictor import compile_predictor
from inference.server import Worker


class FixedAnswerApp(App):
    def __init__(self, model_dir: Path) -> None:
        artifact = load_artifact(model_dir)
        super().__init__(compile_predictor(artifact), artifact.schema, 6_291_456)
        sample = ",".join(str(value) for value in artifact.schema.sample_rows[0])
        real = super().handle(
            Request("POST", "/invocations", {"content-type": "text/csv"}, sample.encode())
        )
        assert real.status == 200, real.body
        self._answer = real

    def handle(self, request: Request) -> Response:
        if request.path == "/invocations":
            self.stats.record(200, None)
            return self._answer
        return super().handle(request)


def main(model_dir: Path, port: int) -> None:
    settings = ServerSettings.from_environment({"SAGEMAKER_BIND_TO_PORT": str(port)})
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    listener.setblocking(False)
    Worker(settings, FixedAnswerApp(model_dir), listener).run()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
