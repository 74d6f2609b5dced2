"""The `serve` command: load, check, listen, fork workers, and drain on SIGTERM.

The parent process loads the artifact and runs the self-check once, binds the port, then forks
the workers, which share the model's memory and the listening socket. A worker that dies is
replaced. On SIGTERM (SageMaker sends SIGKILL 30 s later) every worker stops accepting, finishes
the requests in hand, closes its connections, and the server exits 0.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from types import FrameType

from inference.app import App
from inference.artifact import Artifact, ArtifactError, load_artifact
from inference.codecs import Decoder
from inference.environment import ServerSettings, SettingsError
from inference.eventloop import EventLoop
from inference.http import HttpProtocol
from inference.predictor import Batch, Predictor, compile_predictor, self_check
from inference.transport import Connection, Listener

log = logging.getLogger("inference")

EXIT_START_FAILED = 1
EXIT_USAGE = 2
USAGE = "usage: python -m inference [serve]"
# Workers must be done before SageMaker's SIGKILL, 30 s after SIGTERM.
DRAIN_SECONDS = 25.0
_RESPAWN_PAUSE_SECONDS = 1.0
_PARENT_CHECK_SECONDS = 1.0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments not in ([], ["serve"]):
        sys.stderr.write(f"{USAGE}\n(got: {' '.join(arguments)})\n")
        return EXIT_USAGE
    try:
        settings = ServerSettings.from_environment()
    except SettingsError as error:
        _configure_logging("INFO")
        log.error("cannot start: %s", error)
        return EXIT_START_FAILED
    _configure_logging(settings.log_level)
    started = time.monotonic()
    try:
        artifact = load_artifact(settings.model_dir)
        predictor = compile_predictor(artifact)
        self_check(predictor, artifact.schema, _sample_batch(artifact))
    except ArtifactError as error:
        log.error("cannot start: %s", error)
        return EXIT_START_FAILED
    try:
        listener = _listen(settings)
    except OSError as error:
        log.error(
            "cannot start: cannot listen on %s:%d: %s",
            settings.host,
            settings.port,
            error.strerror or error,
        )
        return EXIT_START_FAILED
    log.info(
        "model loaded and checked",
        extra={
            "predictor": predictor.description,
            "features": len(artifact.schema.features),
            "classes": len(artifact.schema.classes),
            "load_seconds": round(time.monotonic() - started, 3),
            "port": listener.getsockname()[1],
            "workers": settings.workers,
        },
    )
    return _supervise(settings, artifact, predictor, listener)


def _sample_batch(artifact: Artifact) -> Batch:
    return Decoder(artifact.schema).decode_rows([list(row) for row in artifact.schema.sample_rows])


def _listen(settings: ServerSettings) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((settings.host, settings.port))
    listener.listen(1024)
    listener.setblocking(False)
    return listener


def _supervise(
    settings: ServerSettings, artifact: Artifact, predictor: Predictor, listener: socket.socket
) -> int:
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    # Freeze what was loaded so forked workers share it instead of copying it on first GC.
    gc.collect()
    gc.freeze()
    workers: set[int] = set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(settings.workers):
        workers.add(_fork_worker(settings, artifact, predictor, listener))
    deadline: float | None = None
    while workers:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if stopping and deadline is None:
                deadline = time.monotonic() + DRAIN_SECONDS
            if deadline is not None and time.monotonic() > deadline:
                for straggler in workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(straggler, signal.SIGKILL)
            time.sleep(0.05)
            continue
        workers.discard(pid)
        if not stopping:
            log.error(
                "worker exited unexpectedly; starting another",
                extra={"worker": pid, "status": status},
            )
            time.sleep(_RESPAWN_PAUSE_SECONDS)
            workers.add(_fork_worker(settings, artifact, predictor, listener))
    listener.close()
    log.info("server stopped")
    return 0


def _fork_worker(
    settings: ServerSettings, artifact: Artifact, predictor: Predictor, listener: socket.socket
) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        code = _run_worker(settings, artifact, predictor, listener)
    except BaseException:
        log.exception("worker failed")
    finally:
        logging.shutdown()
        os._exit(code)


def _run_worker(
    settings: ServerSettings, artifact: Artifact, predictor: Predictor, listener: socket.socket
) -> int:
    Worker(settings, App(predictor, artifact.schema, settings.max_payload_bytes), listener).run()
    return 0


class Worker:
    """One worker process: serve on the shared socket until SIGTERM, then drain and report."""

    def __init__(self, settings: ServerSettings, app: App, listener: socket.socket) -> None:
        self._settings = settings
        self._app = app
        self._loop = EventLoop()
        self._connections: set[HttpProtocol] = set()
        self._parent = os.getppid()
        self._drain_deadline: float | None = None
        self._listener = Listener(self._loop, listener, self._connect)
        self._loop.add_signal_handler(signal.SIGTERM, self._stop)
        self._summary = self._loop.call_later(settings.summary_interval_seconds, self._report)
        self._orphan_check = self._loop.call_later(_PARENT_CHECK_SECONDS, self._check_parent)

    def run(self) -> None:
        self._loop.run()
        self._report(final=True)
        self._loop.close()

    def _connect(self, sock: socket.socket) -> None:
        protocol = HttpProtocol(
            self._loop,
            self._app.handle,
            self._app.protocol_error,
            self._settings.max_payload_bytes,
            self._settings.timeout_seconds,
            self._connections,
        )
        Connection(self._loop, sock, protocol)

    def _stop(self) -> None:
        if self._drain_deadline is not None:
            return
        self._drain_deadline = self._loop.time() + DRAIN_SECONDS
        self._summary.cancel()
        self._orphan_check.cancel()
        self._listener.close()
        for connection in list(self._connections):
            connection.drain()
        self._wait_for_drain()

    def _wait_for_drain(self) -> None:
        assert self._drain_deadline is not None
        if self._connections and self._loop.time() < self._drain_deadline:
            self._loop.call_later(0.02, self._wait_for_drain)
        else:
            self._loop.stop()

    def _check_parent(self) -> None:
        # A supervisor killed outright (SIGKILL) cannot pass SIGTERM on: stop on our own.
        if os.getppid() != self._parent:
            log.warning("supervisor is gone; stopping")
            self._stop()
        else:
            self._orphan_check = self._loop.call_later(_PARENT_CHECK_SECONDS, self._check_parent)

    def _report(self, final: bool = False) -> None:
        stats, self._app.stats = self._app.stats, type(self._app.stats)()
        if stats.statuses or final:
            labels = self._settings.summary_labels
            log.info("summary", extra={**stats.summary(os.getpid()), **labels})
        if not final:
            interval = self._settings.summary_interval_seconds
            self._summary = self._loop.call_later(interval, self._report)


class _JsonFormatter(logging.Formatter):
    """One JSON object a line, for CloudWatch: time, level, message, then any extra fields."""

    _standard = frozenset(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in self._standard
        )
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
