"""The real stack for fault drills: its own embedded Redis, gunicorn, Celery worker processes, a beat
process, and a counting upstream on 127.0.0.1, over the database of the process that drives it
(the test database under pytest, the bench's in ``bench/drills.py``). The drills kill and restart
parts of it while clients create invocations through the API, then count what happened.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

from integrations_platform.embedded_redis import EmbeddedRedis
from tests.processes import child_env

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CountingUpstream:
    """Answers every request 200 after ``delay`` seconds and counts the requests per path."""

    def __init__(self, delay: float = 0.2):
        self.delay = delay
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with upstream.lock:
                    upstream.hits[self.path] += 1
                time.sleep(upstream.delay)
                body = b'{"ok": true}'
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def total(self) -> int:
        with self.lock:
            return sum(self.hits.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Short figures so that a drill finishes in seconds; bench/drills.py runs with the defaults.
FAST_RECOVERY = {
    "INVOCATION_LEASE_SECONDS": "3",
    "INVOCATION_LEASE_RENEW_EVERY": "1",
    "INVOCATION_RECOVER_EVERY": "1",
    "INVOCATION_DISPATCH_EVERY": "0.5",
    "OUTBOX_DISPATCH_AFTER": "1",
    "OUTBOX_DISPATCH_MAX_DELAY": "3",
}


class Stack:
    def __init__(self, var_dir: Path, upstream: CountingUpstream, *, extra_env: dict | None = None):
        self.var_dir = Path(var_dir)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.redis = EmbeddedRedis(self.var_dir)
        self.web_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self._names = itertools.count(1)
        self.env = child_env(
            VAR_DIR=str(self.var_dir),
            REDIS_URL=self.redis.url,
            SECRET_KEY=settings.SECRET_KEY,
            FIELD_ENCRYPTION_KEY=",".join(settings.FIELD_ENCRYPTION_KEY),
            OUTGOING_ALLOWED_ADDRESSES=upstream.address,
            DEBUG="false",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            **(extra_env or {}),
        )

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.var_dir / f"{name}.log", "ab")  # noqa: SIM115  kept open by the child
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        return process

    def start(self, *, workers: int = 2, concurrency: int = 8) -> Stack:
        self.redis.start()
        self._spawn("web", [
            PY, "-m", "gunicorn", "integrations_platform.wsgi:application", "-k", "gthread", "-w", "1",
            "--threads", "32", "-b", f"127.0.0.1:{self.web_port}", "--log-level", "warning",
        ])  # fmt: skip
        for _ in range(workers):
            self.start_worker(concurrency=concurrency)
        self._spawn("beat", [
            PY, "-m", "celery", "-A", "integrations_platform", "beat", "--loglevel", "WARNING",
            "--schedule", str(self.var_dir / "celerybeat-schedule"),
        ])  # fmt: skip
        self._wait_web()
        return self

    def start_worker(self, *, concurrency: int = 8) -> str:
        name = f"worker{next(self._names)}"
        self._spawn(name, [
            PY, "-m", "celery", "-A", "integrations_platform", "worker", "-P", "threads", "-c", str(concurrency),
            "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle",
            "--loglevel", "WARNING",
        ])  # fmt: skip
        return name

    def _wait_web(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                requests.get(f"{self.base_url}/api/v1/schema/", timeout=5)
                return
            if self.processes["web"].poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the web server did not start; see {self.var_dir / 'web.log'}")

    def kill(self, name: str) -> None:
        """kill -9, as the kernel's OOM killer or a lost machine would."""
        process = self.processes.pop(name)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)

    def workers(self) -> list[str]:
        return [name for name in self.processes if name.startswith("worker")]

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.processes.clear()
        self.redis.stop()

    def logs(self) -> str:
        out = []
        for path in sorted(self.var_dir.glob("*.log")):
            out.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(out)


def terminate_database_backends() -> int:
    """pg_terminate_backend for every other backend of this database (PostgreSQL). Answers how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@dataclass
class Load:
    """Clients creating invocations through the API: GET calls (repeatable) and POST calls without an
    idempotency key (not repeatable), each with a path of its own so the upstream counts each call."""

    base_url: str
    api_key: str
    get_tool: str
    post_tool: str
    answers: Counter = field(default_factory=Counter)
    created: dict = field(default_factory=dict)  # invocation id -> (method, path)
    errors: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def _one(self, session: requests.Session, n: int) -> None:
        method = "GET" if n % 2 else "POST"
        ref = f"{method.lower()}-{n}-{uuid.uuid4().hex[:6]}"
        body = {"tool": self.get_tool if method == "GET" else self.post_tool, "arguments": {"ref": ref}}
        for _ in range(20):  # a 503 ("nothing was saved") may be tried again after Retry-After
            try:
                response = session.post(f"{self.base_url}/api/v1/invocations/", json=body, timeout=60,
                                        headers={"Authorization": f"Bearer {self.api_key}"})
            except requests.RequestException as exc:
                with self.lock:
                    self.errors.append(repr(exc))
                return
            with self.lock:
                self.answers[response.status_code] += 1
            if response.status_code == 201:
                with self.lock:
                    self.created[response.json()["id"]] = (method, f"/{'pay' if method == 'POST' else 'report'}/{ref}")
                return
            if response.status_code != 503:
                with self.lock:
                    self.errors.append(f"{response.status_code}: {response.text[:300]}")
                return
            time.sleep(float(response.headers.get("Retry-After") or 1))

    def run(self, *, total: int, clients: int, pause: float = 0.0) -> None:
        numbers = iter(range(total))
        lock = threading.Lock()

        def client():
            session = requests.Session()
            while not self.stopping.is_set():
                with lock:
                    n = next(numbers, None)
                if n is None:
                    return
                self._one(session, n)
                if pause:
                    time.sleep(pause)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)


def make_drill_tools(org, user, upstream_url: str) -> tuple[str, str]:
    """A connector with ``GET /report/{ref}`` and ``POST /pay/{ref}``, granted to ``user``."""
    from invocations import adapters
    from tests.invocations.conftest import grant, make_connection, make_connector, make_operation

    connector = make_connector(org, upstream_url)
    connection_ = make_connection(connector, user)
    names = []
    for method, path in (("GET", "/report/{ref}"), ("POST", "/pay/{ref}")):
        operation = make_operation(
            connector, method=method, path=path, name=f"drill_{method.lower()}",
            parameters=[{"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}}],
        )
        grant(connection_, operation, user)
        names.append(adapters.tool_name_for(connection_, operation))
    return names[0], names[1]


def outcome(load: Load, upstream: CountingUpstream) -> dict:
    """What the drill asserts: every invocation final, no POST sent twice, the answers clients saw."""
    from invocations.models import Invocation

    rows = dict(Invocation.objects.filter(pk__in=list(load.created)).values_list("pk", "status"))
    states = Counter(rows.values())
    posts_twice = [path for pk, (method, path) in load.created.items() if method == "POST" and upstream.hits[path] > 1]
    succeeded_unsent = [
        path for pk, (method, path) in load.created.items() if rows.get(pk) == "succeeded" and upstream.hits[path] < 1
    ]
    return {
        "created": len(load.created),
        "states": dict(states),
        "not_final": sum(n for state, n in states.items() if state in {"queued", "running"}),
        "posts_sent_twice": posts_twice,
        "succeeded_without_a_call": succeeded_unsent,
        "answers": dict(load.answers),
        "errors": load.errors,
    }


def wait_all_final(load: Load, timeout: float) -> float:
    """Wait (a guard, not a timing) until every created invocation is final; answers the seconds."""
    from invocations.models import Invocation

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        pending = Invocation.objects.filter(pk__in=list(load.created), status__in=["queued", "running"]).count()
        if not pending:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def as_json(data) -> str:
    return json.dumps(data, indent=2, default=str)
