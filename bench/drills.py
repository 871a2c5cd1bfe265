"""Recovery times of the real stack, with the default recovery figures (lease 30 s renewed every
10 s, recovery check every 10 s, dispatcher every 2 s re-sending after 5 s):

    python bench/drills.py              # a private PostgreSQL server under a temp folder (initdb)
    python bench/drills.py --sqlite     # SQLite instead; no PostgreSQL restart then

(1) kill -9 a worker with calls in flight: seconds until each of its calls is final (re-queued and
done by the other worker, or failed "worker lost"). (2) Redis killed and started again 1 s later:
seconds from the restart until a new call through the API succeeds, and until every call created
during the outage is final. (3) PostgreSQL restarted (``pg_ctl restart -m fast`` on the private
server, so that nobody else's database goes down): seconds from the restart until a new call
succeeds and every call in flight is final, and what the clients saw meanwhile.

The stack is the drills' (``tests/drills/stack.py``): gunicorn, two Celery worker processes, beat,
the embedded Redis, a counting upstream on 127.0.0.1. Every stage is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from glob import glob
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR = ROOT / "var" / "bench-drills"
GUARD = 180.0


class PrivatePostgres:
    """A throw-away PostgreSQL server (initdb as the postgres user) on a free port."""

    def __init__(self):
        binaries = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
        if not binaries:
            raise SystemExit("No PostgreSQL server binaries (/usr/lib/postgresql/*/bin); use --sqlite.")
        self.bin = Path(binaries[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="bench-drills-pg-"))
        self.data = self.dir / "data"
        from tests.drills.stack import free_port

        self.port = free_port()
        os.chmod(self.dir, 0o777)
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        user = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
        subprocess.run([*user, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self._ctl("start")

    def _ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-w",
                          "-l", str(self.dir / "log"), "-m", "fast", action)

    def restart(self) -> None:
        self._ctl("restart")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._ctl("stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def setup(database_url: str | None) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "integrations_platform.settings",
        "DJANGO_ENV": "development",
        "VAR_DIR": str(VAR),
        "LOG_LEVEL": "WARNING",
    })
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = str(VAR / "db.sqlite3")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_user():
    import uuid

    from accounts.services import api_key_create, organisation_create, user_create
    from tests.drills.stack import CountingUpstream, make_drill_tools

    tag = uuid.uuid4().hex[:8]
    org = organisation_create(name=f"Drill {tag}", slug=f"drill-{tag}")
    user = user_create(username=f"drill-{tag}", organisation=org, password=None, is_designer=True)
    _, key = api_key_create(user=user, name="drill")
    upstream = CountingUpstream(delay=0.1)
    get_tool, post_tool = make_drill_tools(org, user, upstream.url)
    return upstream, {"api_key": key, "get_tool": get_tool, "post_tool": post_tool}


def final(ids) -> bool:
    from invocations.models import Invocation

    return not Invocation.objects.filter(pk__in=list(ids), status__in=["queued", "running"]).exists()


def until(predicate, guard: float = GUARD) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > guard:
            return float("inf")
        time.sleep(0.1)
    return time.monotonic() - started


def one_call(stack, args, timeout: float = 5) -> bool:
    import requests

    try:
        response = requests.post(
            f"{stack.base_url}/api/v1/invocations/",
            json={"tool": args["get_tool"], "arguments": {"ref": "probe"}, "wait": timeout},
            headers={"Authorization": f"Bearer {args['api_key']}"},
            timeout=timeout + 5,
        )
    except requests.RequestException:
        return False
    return response.status_code == 201 and response.json().get("status") == "succeeded"


def background_load(stack, args, total: int, clients: int, pause: float):
    from tests.drills.stack import Load

    load = Load(stack.base_url, **args)
    thread = threading.Thread(target=load.run, kwargs={"total": total, "clients": clients, "pause": pause},
                              daemon=True)
    thread.start()
    return load, thread


def drill_kill(upstream, args) -> None:
    from invocations.models import Invocation
    from tests.drills.stack import Stack

    upstream.delay = 3.0  # calls stay in flight long enough to be caught
    stack = Stack(VAR / "kill", upstream).start(workers=2, concurrency=8)
    try:
        load, thread = background_load(stack, args, total=32, clients=16, pause=0)
        until(lambda: Invocation.objects.filter(status="running", worker__startswith="worker1").count() >= 3, 60)
        victims = list(Invocation.objects.filter(status="running", worker__startswith="worker1")
                       .values_list("pk", flat=True))
        stack.kill("worker1")
        recovered = until(lambda: not Invocation.objects.filter(pk__in=victims, status="running",
                                                                 worker__startswith="worker1").exists())
        seconds = until(lambda: final(victims)) + recovered
        thread.join(GUARD)
        until(lambda: final(load.created))
        states = Counter(Invocation.objects.filter(pk__in=victims).values_list("status", flat=True))
        print(f"(1) worker killed with {len(victims)} calls in flight: recovered (re-queued or failed) "
              f"{recovered:.1f} s after the kill, all final after {seconds:.1f} s (each call takes 3 s) "
              f"({states}); clients saw {dict(load.answers)}")
    finally:
        stack.stop()
        upstream.delay = 0.1


def drill_redis(upstream, args) -> None:
    from tests.drills.stack import Stack

    stack = Stack(VAR / "redis", upstream).start(workers=2, concurrency=8)
    try:
        load, thread = background_load(stack, args, total=10_000, clients=4, pause=0.05)
        until(lambda: len(load.created) >= 20, 60)
        stack.redis.kill()
        during_start = len(load.created)
        time.sleep(1.0)
        during = set(list(load.created)[during_start:])
        stack.redis.start()
        restarted = time.monotonic()
        service = until(lambda: one_call(stack, args))
        drained = until(lambda: final(during))
        load.stopping.set()
        thread.join(GUARD)
        load_total = len(load.created)
        print(f"(2) Redis killed, started again 1 s later: a new call succeeded {service:.1f} s after the restart; "
              f"the {len(during)} calls created during the outage were all final "
              f"{time.monotonic() - restarted:.1f} s after it (waited {drained:.1f} s); clients saw "
              f"{dict(load.answers)} over {load_total} creates")
    finally:
        with contextlib.suppress(NameError):
            load.stopping.set()
        stack.stop()


def drill_postgres(pg, upstream, args) -> None:
    from tests.drills.stack import Stack

    stack = Stack(VAR / "postgres", upstream, extra_env={"DB_POOL_MAX_SIZE": "4"}).start(workers=2, concurrency=8)
    try:
        load, thread = background_load(stack, args, total=10_000, clients=4, pause=0.05)
        until(lambda: len(load.created) >= 20, 60)
        in_flight = set(load.created)
        started = time.monotonic()
        pg.restart()
        restart_took = time.monotonic() - started
        from django.db import connections

        connections.close_all()
        service = until(lambda: one_call(stack, args))
        drained = until(lambda: final(in_flight))
        load.stopping.set()
        thread.join(GUARD)
        print(f"(3) PostgreSQL restarted (pg_ctl restart -m fast took {restart_took:.1f} s): a new call succeeded "
              f"{service:.1f} s after it was back; every call created before it was final {drained:.1f} s later; "
              f"clients saw {dict(load.answers)}")
    finally:
        with contextlib.suppress(NameError):
            load.stopping.set()
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--only", default="kill,redis,postgres")
    options = parser.parse_args()
    only = set(options.only.split(","))
    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir(parents=True)
    pg = None
    try:
        if not options.sqlite:
            pg = PrivatePostgres()
            pg.start()
        setup(pg.url if pg else None)
        upstream, args = make_user()
        print(f"database: {'private PostgreSQL' if pg else 'SQLite'}; default recovery figures")
        if "kill" in only:
            drill_kill(upstream, args)
        if "redis" in only:
            drill_redis(upstream, args)
        if "postgres" in only and pg is not None:
            drill_postgres(pg, upstream, args)
    finally:
        if pg is not None:
            from django.db import connections

            connections.close_all()
            pg.stop()


if __name__ == "__main__":
    main()
