"""Figures for the pure parts of applying credentials: redaction and credential validation.

Run: python bench/connections_redact.py
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrations_platform.settings")

import django

django.setup()

from connections import kinds  # noqa: E402
from connections.credentials import _with_encoded_forms, redact  # noqa: E402


def timed(label, fn, repeat):
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    per = (time.perf_counter() - start) / repeat
    print(f"{label}: {per * 1e6:,.1f} µs per call ({repeat} calls)")


secrets = _with_encoded_forms([f"secret-value-{i:04d}-abcdefgh/+=" for i in range(20)])
text_1k = ("x" * 900 + secrets[3] + "y" * 80)[:1000]
text_100k = ("lorem ipsum " * 8000 + secrets[7])[:100_000]
nested = {"headers": {f"h{i}": f"v{i}" for i in range(30)}, "body": text_1k, "list": [text_1k] * 10}

timed(f"redact 1 KB text, {len(secrets)} secret forms", lambda: redact(text_1k, secrets), 20000)
timed(f"redact 100 KB text, {len(secrets)} secret forms", lambda: redact(text_100k, secrets), 500)
timed("redact nested record (~11 KB)", lambda: redact(nested, secrets), 2000)
timed(
    "validate an API key credential",
    lambda: kinds.validate("api_key", {"in": "header", "name": "X-API-Key"}, {"key": "k" * 40}),
    20000,
)
