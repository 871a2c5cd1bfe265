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
from connections.secrets import redact, secret_forms  # noqa: E402


def timed(label, fn, repeat):
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    per = (time.perf_counter() - start) / repeat
    print(f"{label}: {per * 1e6:,.1f} µs per call ({repeat} calls)")


values = [f"secret-value-{i:04d}-abcdefgh/+=" for i in range(5)]
forms = secret_forms(values, basic=[("svc-user", values[0])])
text_1k = ("x" * 900 + values[3] + "y" * 80)[:1000]
text_100k = ("lorem ipsum " * 8000 + values[2])[:100_000]
# What upstreams answer: JSON with escapes, percent-encoded URLs, HTML entities.
escaped_100k = ('{"a": "caf\\u00e9 & co", "u": "https://x/?q=a%20b&r=c+d"} ' * 1700 + values[1])[:100_000]
html_1m = ("<p>Fish &amp; chips &#233; %41 caf\\u00e9</p>\n" * 24000)[:1_000_000]
nested = {"headers": {f"h{i}": f"v{i}" for i in range(30)}, "body": text_1k, "list": [text_1k] * 10}

print(f"{len(values)} secrets, {len(forms)} forms to redact")
timed("redact 1 KB plain text", lambda: redact(text_1k, forms), 5000)
timed("redact 100 KB plain text", lambda: redact(text_100k, forms), 200)
timed("redact 100 KB of JSON with escapes, URLs and +", lambda: redact(escaped_100k, forms), 50)
timed("redact 1 MB of HTML with entities, escapes and %", lambda: redact(html_1m, forms), 5)
timed("redact nested record (~11 KB)", lambda: redact(nested, forms), 1000)
timed(
    "validate an API key credential",
    lambda: kinds.validate("api_key", {"in": "header", "name": "X-API-Key"}, {"key": "k" * 40}),
    20000,
)
