"""The demo upstream service: a tiny notes API on 127.0.0.1, for `make run` and the browser tests.

It keeps notes in memory, wants the API key in the ``X-API-Key`` header, and has one endpoint
that always fails (``GET /reports/daily``), so that a newcomer sees how results and errors look.
Standard library only. Run it alone with ``python -m portal.demo.upstream --port 8001``.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import re
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SCHEMA_PATH = Path(__file__).with_name("notes-openapi.yaml")
DEFAULT_PORT = 8001
DEFAULT_API_KEY = "demo-notes-key-4f2a9c"
MAX_BODY = 64 * 1024
PRIORITIES = {"low", "normal", "high"}


def schema_text(base_url: str | None = None) -> str:
    """The OpenAPI schema of the service, with its server URL set to ``base_url`` if given."""
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    if base_url:
        text = text.replace("http://127.0.0.1:8001", base_url.rstrip("/"), 1)
    return text


class NotesStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notes: dict[int, dict] = {}
        self._next = 1
        self.create({"title": "Welcome", "text": "This note comes from the demo notes service.", "tags": ["demo"]})

    def create(self, data: dict) -> dict:
        with self._lock:
            note = {
                "id": self._next,
                "title": data["title"],
                "text": data.get("text", ""),
                "priority": data.get("priority", "normal"),
                "pinned": bool(data.get("pinned", False)),
                "tags": list(data.get("tags") or []),
                "author": data.get("author") or {},
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            self._notes[self._next] = note
            self._next += 1
            return note

    def list(self, q: str = "", tag: str = "", limit: int = 20) -> list[dict]:
        with self._lock:
            notes = sorted(self._notes.values(), key=lambda n: (not n["pinned"], -n["id"]))
        if q:
            notes = [n for n in notes if q.lower() in (n["title"] + " " + n["text"]).lower()]
        if tag:
            notes = [n for n in notes if tag in n["tags"]]
        return notes[:limit]

    def get(self, note_id: int) -> dict | None:
        with self._lock:
            return self._notes.get(note_id)

    def delete(self, note_id: int) -> bool:
        with self._lock:
            return self._notes.pop(note_id, None) is not None


def _validate_note(data) -> dict[str, str]:
    errors = {}
    if not isinstance(data, dict):
        return {"body": "Send a JSON object."}
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        errors["title"] = "A title is required."
    elif len(title) > 200:
        errors["title"] = "At most 200 characters."
    if "text" in data and (not isinstance(data["text"], str) or len(data["text"]) > 5000):
        errors["text"] = "Text of at most 5000 characters."
    if "priority" in data and data["priority"] not in PRIORITIES:
        errors["priority"] = "One of low, normal, high."
    if "tags" in data and (not isinstance(data["tags"], list) or not all(isinstance(t, str) for t in data["tags"])):
        errors["tags"] = "A list of words."
    return errors


def make_handler(store: NotesStore, api_key: str):
    class Handler(BaseHTTPRequestHandler):
        server_version = "DemoNotes/1.0"
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            if os.environ.get("DEMO_UPSTREAM_LOG"):
                super().log_message(format, *args)

        def _send(self, status: int, payload=None, content_type: str = "application/json") -> None:
            if payload is None:
                body = b""
            elif isinstance(payload, str | bytes):
                body = payload.encode() if isinstance(payload, str) else payload
            else:
                body = json.dumps(payload).encode()
            self.send_response(status)
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

        def _authorised(self) -> bool:
            given = self.headers.get("X-API-Key", "")
            if hmac.compare_digest(given.encode(), api_key.encode()):
                return True
            self._send(401, {"error": "unauthorised", "message": "Send the API key in the X-API-Key header."})
            return False

        def _route(self):
            url = urlsplit(self.path)
            return url.path.rstrip("/") or "/", parse_qs(url.query)

        def do_GET(self):
            path, query = self._route()
            if path == "/openapi.yaml":
                host = self.headers.get("Host", "127.0.0.1")
                return self._send(200, schema_text(f"http://{host}"), "application/yaml")
            if path == "/health":
                return self._send(200, {"status": "ok"})
            if not self._authorised():
                return None
            if path == "/notes":
                try:
                    limit = int(query.get("limit", ["20"])[0])
                except ValueError:
                    return self._send(400, {"error": "bad_request", "message": "limit must be a number."})
                return self._send(
                    200, store.list(query.get("q", [""])[0], query.get("tag", [""])[0], max(1, min(limit, 100)))
                )
            match = re.fullmatch(r"/notes/(\d{1,9})", path)
            if match:
                note = store.get(int(match.group(1)))
                if note is None:
                    return self._send(404, {"error": "not_found", "message": f"There is no note {match.group(1)}."})
                return self._send(200, note)
            if path == "/reports/daily":
                return self._send(
                    500, {"error": "report_generator_down", "message": "The report generator is not running."}
                )
            return self._send(404, {"error": "not_found", "message": "No such endpoint."})

        def do_POST(self):
            path, _ = self._route()
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._send(413, {"error": "too_large", "message": "The body is too large."})
            raw = self.rfile.read(length) if length else b""
            if not self._authorised():
                return None
            if path != "/notes":
                return self._send(404, {"error": "not_found", "message": "No such endpoint."})
            try:
                data = json.loads(raw or b"null")
            except ValueError:
                return self._send(400, {"error": "bad_request", "message": "Send JSON."})
            errors = _validate_note(data)
            if errors:
                return self._send(422, {"error": "invalid", "errors": errors})
            return self._send(201, store.create(data))

        def do_DELETE(self):
            path, _ = self._route()
            if not self._authorised():
                return None
            match = re.fullmatch(r"/notes/(\d{1,9})", path)
            if not match:
                return self._send(404, {"error": "not_found", "message": "No such endpoint."})
            if not store.delete(int(match.group(1))):
                return self._send(404, {"error": "not_found", "message": f"There is no note {match.group(1)}."})
            return self._send(204)

    return Handler


def make_server(host: str = "127.0.0.1", port: int = 0, api_key: str = DEFAULT_API_KEY) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (0: a free port); call ``serve_forever()`` to run it."""
    server = ThreadingHTTPServer((host, port), make_handler(NotesStore(), api_key))
    server.daemon_threads = True
    return server


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="The demo notes service.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_UPSTREAM_PORT", DEFAULT_PORT)))
    parser.add_argument("--api-key", default=os.environ.get("DEMO_UPSTREAM_API_KEY", DEFAULT_API_KEY))
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, args.api_key)
    print(f"Demo notes service on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
