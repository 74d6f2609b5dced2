"""The `serve` command: load, check, listen, then serve with uvicorn under gunicorn's arbiter.

The parent process loads the artifact and runs the self-check once, binds the port, then hands
over to gunicorn's arbiter, which forks the workers (they share the model's memory and the
listening socket). Each worker is uvicorn on uvloop with llhttp (inference.protocol) serving
the ASGI App. The arbiter replaces a worker that exits, and one whose event loop stops
beating (hung, stopped, or stuck in one request) for SAGESTACK_WORKER_TIMEOUT_SECONDS. On
SIGTERM (SageMaker sends SIGKILL 30 s later) every worker stops accepting, finishes the
requests in hand, closes its connections and writes a last summary line; the server exits 0.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger as GunicornLogger
from gunicorn.sock import TCPSocket
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from inference.app import App
from inference.artifact import Artifact, ArtifactError, load_artifact
from inference.codecs import Decoder
from inference.environment import ServerSettings, SettingsError
from inference.explain import check_explainer, load_explainer
from inference.predictor import Batch, compile_predictor, self_check
from inference.protocol import SageMakerProtocol

log = logging.getLogger("inference")

EXIT_START_FAILED = 1
EXIT_USAGE = 2
USAGE = "usage: python -m inference [serve]"
# Workers must be done before SageMaker's SIGKILL, 30 s after SIGTERM.
DRAIN_SECONDS = 25
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
        explainer = load_explainer(artifact, predictor.head)
        if explainer is not None:
            check_explainer(explainer, predictor, _sample_batch(artifact))
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
            "explanations": None if explainer is None else explainer.space,
            "features": len(artifact.schema.features),
            "classes": len(artifact.schema.classes),
            "load_seconds": round(time.monotonic() - started, 3),
            "port": listener.getsockname()[1],
            "workers": settings.workers,
        },
    )
    app = App(
        predictor,
        artifact.schema,
        settings.max_payload_bytes,
        explainer=explainer,
        max_explained_rows=settings.max_explained_rows,
    )
    return _serve(settings, app, listener)


def _sample_batch(artifact: Artifact) -> Batch:
    return Decoder(artifact.schema).decode_rows([list(row) for row in artifact.schema.sample_rows])


def _listen(settings: ServerSettings) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((settings.host, settings.port))
    listener.listen(1024)
    listener.setblocking(False)
    return listener


def _serve(settings: ServerSettings, app: App, listener: socket.socket) -> int:
    SageMakerProtocol.request_timeout_seconds = settings.timeout_seconds
    SageMakerProtocol.write_timeout_seconds = settings.timeout_seconds
    SageMakerWorker.settings = settings
    SageMakerWorker.CONFIG_KWARGS = {
        "loop": "uvloop",
        "http": SageMakerProtocol,
        "ws": "none",
        "lifespan": "off",
        "interface": "asgi3",
        # The App itself is what each connection calls: no proxy-header rewriting.
        "proxy_headers": False,
        "server_header": False,
        "timeout_keep_alive": settings.timeout_seconds,
        # A little under the arbiter's own limit, so that the last summary line is written.
        "timeout_graceful_shutdown": DRAIN_SECONDS - 2,
    }
    options: dict[str, Any] = {
        "workers": settings.workers,
        "worker_class": SageMakerWorker,
        "timeout": settings.worker_timeout_seconds,
        "graceful_timeout": DRAIN_SECONDS,
        "preload_app": True,
        "logger_class": _JsonGunicornLogger,
        "loglevel": settings.log_level.lower(),
        "accesslog": None,
        "errorlog": "-",
        "proc_name": "sagestack-inference",
        # gunicorn's runtime control socket (one path per user, shared by every server on the
        # machine): not wanted, nothing here talks to it.
        "control_socket_disable": True,
    }
    # Freeze what was loaded so forked workers share it instead of copying it on their first
    # collection. `python -m inference` turned collection off while loading (the few hundred
    # unreachable objects start-up leaves are frozen with the rest): turn it back on.
    gc.freeze()
    gc.enable()
    arbiter = Arbiter(_GunicornApplication(app, options))
    # The socket bound above (so that a port in use is one clear line, at once), not one of
    # gunicorn's making.
    arbiter.LISTENERS = [
        TCPSocket(listener.getsockname(), arbiter.cfg, arbiter.log, fd=listener.detach())
    ]
    try:
        arbiter.run()
    except SystemExit as stopped:
        code = stopped.code
        return code if isinstance(code, int) else EXIT_START_FAILED
    return 0


class _GunicornApplication(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: App, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> App:
        return self._app


class SageMakerWorker(UvicornWorker):  # type: ignore[misc]
    """uvicorn in a gunicorn worker, plus the summary line and a stop when orphaned."""

    settings: ServerSettings
    stop_requested = False

    def init_signals(self) -> None:
        super().init_signals()
        # uvicorn handles SIGTERM only while it serves, then raises it again once it is done,
        # for the handler it found. Before it serves (a worker still starting when the
        # arbiter stops), an ignored SIGTERM was lost and the arbiter waited its whole
        # graceful timeout (25 s) before killing the worker; remembering it stops the worker
        # as soon as it serves, and after serving lets it write its last summary and exit 0.
        signal.signal(signal.SIGTERM, self._remember_stop)

    def _remember_stop(self, signum: int, frame: Any) -> None:
        self.stop_requested = True

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = Server(config=self.config)
        self._install_sigquit_handler()
        server.should_exit = self.stop_requested
        chores = asyncio.create_task(self._chores(server))
        try:
            await server.serve(sockets=self.sockets)
        finally:
            chores.cancel()
            self._report(final=True)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    async def _chores(self, server: Server) -> None:
        interval = self.settings.summary_interval_seconds
        loop = asyncio.get_running_loop()
        next_summary = loop.time() + interval
        while True:
            await asyncio.sleep(min(_PARENT_CHECK_SECONDS, interval))
            # A SIGTERM that came between the check in _serve and uvicorn's own handler.
            if self.stop_requested:
                server.should_exit = True
            # An arbiter killed outright (SIGKILL) cannot pass SIGTERM on: stop on our own.
            if os.getppid() != self.ppid:
                log.warning("supervisor is gone; stopping")
                server.should_exit = True
                return
            if loop.time() >= next_summary:
                self._report()
                next_summary = loop.time() + interval

    def _report(self, final: bool = False) -> None:
        app: App = self.wsgi
        stats, app.stats = app.stats, type(app.stats)()
        if stats.statuses or final:
            log.info(
                "summary", extra={**stats.summary(os.getpid()), **self.settings.summary_labels}
            )


class _JsonFormatter(logging.Formatter):
    """One JSON object a line, for CloudWatch: time, level, message, then any extra fields."""

    # uvicorn adds a copy of some messages with terminal colours: not for CloudWatch.
    _standard = frozenset(vars(logging.makeLogRecord({}))) | {"color_message"}

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


class _JsonGunicornLogger(GunicornLogger):  # type: ignore[misc]
    """gunicorn's own lines (workers booted, timed out, replaced) as JSON on stdout too."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_JsonFormatter())
        self.error_log.handlers = [handler]
        self.access_log.handlers = []
