"""`make run`'s last step on a fresh var/ folder with no Redis anywhere: run_platform starts the
embedded Redis, the demo upstream, a worker with beat and the web server; a call goes through the
API; Ctrl-C stops everything, the Redis server included."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from integrations_platform.embedded_redis import answers, socket_path

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_platform_on_a_fresh_folder_with_the_embedded_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SQLITE_PATH"}}
    env.update({"DJANGO_ENV": "development", "VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"})
    port, upstream_port = free_port(), free_port()
    manage = [sys.executable, "manage.py"]

    def run(*args):
        result = subprocess.run([*manage, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    run("migrate", "--noinput")
    run("load_demo", "--upstream-port", str(upstream_port))
    key = run("create_api_key", "user").strip().splitlines()[-1].strip()
    platform = subprocess.Popen(
        [*manage, "run_platform", "--port", str(port), "--upstream-port", str(upstream_port), "--concurrency", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert platform.poll() is None, platform.stdout.read()[-3000:]
            try:
                tools = requests.get(f"{base}/api/v1/tools/", headers={"Authorization": f"Bearer {key}"}, timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the web server never answered"
                time.sleep(0.3)
        assert answers(socket_path(tmp_path / "var"))
        assert tools.status_code == 200, tools.text
        (name,) = [t["name"] for t in tools.json() if t["name"].endswith("__listNotes")]
        response = requests.post(
            f"{base}/api/v1/invocations/",
            json={"tool": name, "arguments": {}, "wait": 30},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "succeeded", response.json()
    finally:
        platform.send_signal(signal.SIGINT)
        output, _ = platform.communicate(timeout=60)
    assert "Stopped." in output, output[-3000:]
    assert not answers(socket_path(tmp_path / "var"))
    assert not socket_path(tmp_path / "var").exists()
