"""Invocation figures with PostgreSQL and Redis.

    python bench/invoke.py            # needs a local PostgreSQL (database bench_invoke) and Redis
    DB_SYNCHRONOUS_COMMIT=off python bench/invoke.py   # commits without waiting for the WAL flush

Every stage is bounded in count and in time (the concurrent ones start no call after 60 s).

(a) a direct `requests` call to a local upstream; (b) a bare Celery task round trip; (c) Celery
tasks making the same call (tasks/s); (d) invocations end to end through the API with `wait`:
sequential p50/p99, and throughput with 8 clients; (e) the same against an upstream that takes
200 ms, with 100 clients. The web server is gunicorn with gthread workers (many threads: a
waiting request sleeps on a Redis subscription, it does not use CPU), the worker is Celery's
threads pool with high concurrency (an invocation spends its time waiting on the upstream), and
both use psycopg's connection pool, so the threads in flight share a few server connections.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_invoke")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
WEB_PORT = int(os.environ.get("BENCH_WEB_PORT", "8765"))
WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "100"))
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "2"))
WEB_THREADS = int(os.environ.get("BENCH_WEB_THREADS", "64"))


def upstream_main(port: int, delay: float) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_GET(self):
            if delay:
                time.sleep(delay)
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 512
    server.serve_forever()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def fmt_ms(values) -> str:
    return f"p50 {statistics.median(values) * 1000:.2f} ms, p99 {pct(values, 99) * 1000:.2f} ms (n={len(values)})"


def concurrent(n_clients: int, total: int, fn, max_seconds: float = 60.0) -> float:
    """Run ``fn(session)`` up to ``total`` times from ``n_clients`` threads, starting no new call after
    ``max_seconds``; answers completed calls per second."""
    import requests

    counter = iter(range(total))
    lock = threading.Lock()
    errors = []
    done = []
    stop_at = time.perf_counter() + max_seconds

    def client():
        session = requests.Session()
        while True:
            with lock:
                if next(counter, None) is None or time.perf_counter() > stop_at:
                    return
            try:
                fn(session)
                done.append(1)
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(n_clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        print(f"  {len(errors)} errors, first: {errors[0]!r}")
    if len(done) + len(errors) < total:
        print(f"  stopped after {max_seconds:.0f} s: {len(done)} of {total} calls completed")
    return len(done) / elapsed


def main() -> None:
    fast_port, slow_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "DB_POOL_MAX_SIZE": os.environ.get("DB_POOL_MAX_SIZE", "20"),
        "DB_SYNCHRONOUS_COMMIT": os.environ.get("DB_SYNCHRONOUS_COMMIT", "on"),
        "DJANGO_ENV": "development",
        "DEBUG": "false",
        "VAR_DIR": str(ROOT / "var" / "bench"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OUTGOING_ALLOWED_ADDRESSES": f"127.0.0.1:{fast_port},127.0.0.1:{slow_port}",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "integrations_platform.settings",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    procs = [
        subprocess.Popen([PY, __file__, "upstream", str(fast_port), "0"]),
        subprocess.Popen([PY, __file__, "upstream", str(slow_port), "0.2"]),
    ]
    try:
        run(env, fast_port, slow_port, procs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def run(env, fast_port, slow_port, procs) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    import redis
    import requests
    from django.core.management import call_command

    from accesscontrol.services import connection_access_define
    from accounts.services import api_key_create, organisation_create, user_create
    from bench import invoke_tasks
    from connections.models import Connection
    from connectors.models import Connector, IntegrationType, Operation
    from invocations import adapters

    call_command("migrate", verbosity=0)
    tag = uuid.uuid4().hex[:8]
    org = organisation_create(name=f"Bench {tag}", slug=f"bench-{tag}")
    user = user_create(username=f"bench-{tag}", organisation=org, password=None, is_designer=True)
    _, key = api_key_create(user=user, name="bench")
    kind, _ = IntegrationType.objects.get_or_create(key="custom_openapi", defaults={"name": "Custom OpenAPI"})
    tools = {}
    for label, port in (("fast", fast_port), ("slow", slow_port)):
        connector = Connector.objects.create(
            organisation=org, integration_type=kind, name=f"Bench {label} {tag}", base_url=f"http://127.0.0.1:{port}"
        )
        operation = Operation.objects.create(
            connector=connector, method="GET", path="/ping", name="ping",
            input_schema={"type": "object", "properties": {}, "additionalProperties": False},
        )
        connection = Connection.objects.create(connector=connector, organisation=org, name="bench", created_by=user)
        # Company level; the defaults allow GET methods to every grantee without confirmation.
        connection_access_define(connection=connection, level="company")
        tools[label] = adapters.tool_name_for(connection, operation)
    from django.db import connections

    connections.close_all()

    for port in (fast_port, slow_port):
        wait_port(port)
    worker = subprocess.Popen(
        [PY, "-m", "celery", "-A", "integrations_platform", "worker", "-P", "threads", "-c", str(WORKER_CONCURRENCY),
         "-I", "bench.invoke_tasks", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "--prefetch-multiplier", "4", "--loglevel", "WARNING"],
        cwd=ROOT, env=env,
    )
    web = subprocess.Popen(
        [PY, "-m", "gunicorn", "integrations_platform.wsgi", "-k", "gthread", "-w", str(WEB_WORKERS),
         "--threads", str(WEB_THREADS), "-b", f"127.0.0.1:{WEB_PORT}", "--backlog", "1024",
         "--log-level", "warning", "--keep-alive", "30"],
        cwd=ROOT, env=env,
    )
    procs += [worker, web]
    wait_port(WEB_PORT)
    r = redis.Redis.from_url(REDIS_URL)
    # Let the worker come up: a ping round trip.
    invoke_tasks.ping.delay("bench:warm")
    r.blpop("bench:warm", timeout=60)

    fast_url = f"http://127.0.0.1:{fast_port}/ping"
    print(f"cores: {os.cpu_count()}; worker: threads pool x{WORKER_CONCURRENCY}; "
          f"web: gunicorn gthread {WEB_WORKERS} x {WEB_THREADS} threads; DB pool max {env['DB_POOL_MAX_SIZE']}; "
          f"synchronous_commit {env['DB_SYNCHRONOUS_COMMIT']}")

    # (a)
    session = requests.Session()
    for _ in range(50):
        session.get(fast_url)
    samples = []
    for _ in range(1000):
        t = time.perf_counter()
        session.get(fast_url)
        samples.append(time.perf_counter() - t)
    a = statistics.median(samples)
    print(f"(a) direct requests call: {fmt_ms(samples)}")

    # (b)
    samples = []
    for i in range(300):
        k = f"bench:b:{tag}:{i}"
        t = time.perf_counter()
        invoke_tasks.ping.delay(k)
        r.blpop(k, timeout=30)
        samples.append(time.perf_counter() - t)
    b = statistics.median(samples)
    print(f"(b) bare Celery task round trip: {fmt_ms(samples)}")

    # (c)
    n = 3000
    k = f"bench:c:{tag}"
    t = time.perf_counter()
    for _ in range(n):
        invoke_tasks.call.delay(fast_url, k)
    for _ in range(n):
        r.blpop(k, timeout=60)
    c = n / (time.perf_counter() - t)
    print(f"(c) Celery tasks making the call: {c:.0f} tasks/s (n={n})")

    api = f"http://127.0.0.1:{WEB_PORT}/api/v1/invocations/"
    headers = {"Authorization": f"Bearer {key}"}

    def invoke(s, tool):
        resp = s.post(api, json={"tool": tool, "arguments": {}, "wait": 30}, headers=headers, timeout=60)
        data = resp.json()
        if resp.status_code != 201 or data.get("status") != "succeeded":
            raise RuntimeError(f"{resp.status_code} {str(data)[:200]}")

    # (d)
    session = requests.Session()
    for _ in range(20):
        invoke(session, tools["fast"])
    samples = []
    for _ in range(300):
        t = time.perf_counter()
        invoke(session, tools["fast"])
        samples.append(time.perf_counter() - t)
    d50 = statistics.median(samples)
    print(f"(d) invocation through the API, sequential: {fmt_ms(samples)}")
    d = concurrent(8, 1500, lambda s: invoke(s, tools["fast"]), max_seconds=60)
    print(f"(d) invocation through the API, 8 clients: {d:.0f} invocations/s")

    # (e)
    concurrent(100, 300, lambda s: invoke(s, tools["slow"]), max_seconds=20)  # warm 100 client connections
    e = concurrent(100, 3000, lambda s: invoke(s, tools["slow"]), max_seconds=60)
    print(f"(e) upstream taking 200 ms, 100 clients: {e:.0f} invocations/s")

    print()
    print(f"aim (d) p50 <= 4 x ((a)+(b)) = {4 * (a + b) * 1000:.2f} ms: {'met' if d50 <= 4 * (a + b) else 'NOT met'}")
    print(f"aim (d) >= 40% of (c) = {0.4 * c:.0f}/s: {'met' if d >= 0.4 * c else 'NOT met'}")
    print(f"aim (e) >= 250/s: {'met' if e >= 250 else 'NOT met'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "upstream":
        upstream_main(int(sys.argv[2]), float(sys.argv[3]))
    else:
        main()
