import json
import sys
import threading

import pytest

from connectors.openapi import parse_schema


def openapi3(paths, version="3.0.3", **extra):
    return {"openapi": version, "info": {"title": "Test API", "version": "1"}, "paths": paths, **extra}


def swagger2(paths, **extra):
    return {"swagger": "2.0", "info": {"title": "Test API", "version": "1"}, "paths": paths, **extra}


def parse(document, **kwargs):
    return parse_schema(json.dumps(document), **kwargs)


def op(result, name):
    return next(operation for operation in result.operations if operation.name == name)


_watch = {"on": False, "events": []}


def _audit(event, args):
    if _watch["on"] and event in ("open", "socket.connect", "urllib.Request", "os.listdir", "os.scandir"):
        _watch["events"].append((event, args))


@pytest.fixture(scope="session")
def _audit_hook():
    # Audit hooks cannot be removed: one for the session, switched on only while a test watches.
    sys.addaudithook(_audit)


@pytest.fixture
def io_watch(_audit_hook):
    """Records every file opened and every connection made while the test runs."""
    _watch["events"] = []
    _watch["on"] = True
    yield _watch["events"]
    _watch["on"] = False


@pytest.fixture
def guard():
    """Runs a function in a thread and fails (rather than hanging the suite) past a generous limit."""

    def run(function, limit=60):
        outcome = {}

        def target():
            try:
                outcome["value"] = function()
            except BaseException as error:
                outcome["error"] = error

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(limit)
        assert not thread.is_alive(), f"did not finish within {limit} s"
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    return run
