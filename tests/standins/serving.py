"""What both stand-ins share: a threaded HTTP/1.1 server on a free loopback port."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle plus delayed ACKs
    # add 40 ms to every keep-alive request.
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return  # the client hung up mid-answer, as a client that stops reading does
        super().handle_error(request, client_address)


class LocalServer:
    """start/stop and the context manager; subclasses name their handler and URL suffix."""

    handler: type[QuietHandler]
    url_suffix = ""

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def start(self) -> Self:
        owner = self

        class Handler(self.handler):  # type: ignore[name-defined,misc]
            pass

        Handler.owner = owner
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{self.url_suffix}"
        # A short poll interval: shutdown() waits for one, and every test stops a server.
        server = self._server
        threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.02), daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
