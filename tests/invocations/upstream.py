"""A real HTTP server on 127.0.0.1 for tests: records every request, answers from a script."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Hit:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes | str | dict | list = b'{"ok": true}'
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    # Set to an Event: the handler holds the request until it is set (or 30 s pass).
    hold: threading.Event | None = None


class Upstream:
    def __init__(self):
        self.hits: list[Hit] = []
        self.script: deque[Answer] = deque()
        self.default = Answer()
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with upstream._lock:
                    upstream.hits.append(Hit(self.command, self.path, dict(self.headers.items()), body))
                    answer = upstream.script.popleft() if upstream.script else upstream.default
                upstream.arrived.set()
                if answer.hold is not None:
                    answer.hold.wait(30)
                if answer.delay:
                    threading.Event().wait(answer.delay)
                data = answer.body
                headers = dict(answer.headers)
                if isinstance(data, (dict, list)):
                    data = json.dumps(data).encode()
                    headers.setdefault("Content-Type", "application/json")
                elif isinstance(data, str):
                    data = data.encode()
                    headers.setdefault("Content-Type", "text/plain; charset=utf-8")
                else:
                    headers.setdefault("Content-Type", "application/json")
                try:
                    self.send_response(answer.status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
