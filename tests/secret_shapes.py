"""The forms of a secret that must never be shown, and shapes an upstream may echo it in, written
here independently of the code under test (``connections.secrets``) so that the tests check it."""

from __future__ import annotations

import base64
import html
import json
import re
from urllib.parse import quote, quote_plus


def _u(text: str, *, every: bool) -> str:
    out = []
    for ch in text:
        if every or ord(ch) > 127:
            data = ch.encode("utf-16-be", "surrogatepass")
            out += [f"\\u{int.from_bytes(data[i:i + 2], 'big'):04x}" for i in range(0, len(data), 2)]
        else:
            out.append(ch)
    return "".join(out)


def listed_forms(secret: str, username: str | None = None) -> list[str]:
    """Raw; JSON-escaped (\\u for every character, and for non-ASCII only; json.dumps's own);
    percent-encoded once and twice; form-encoded; base64 of user:password and of the secret."""
    once = quote(secret, safe="")
    forms = {
        secret,
        _u(secret, every=True),
        _u(secret, every=False),
        json.dumps(secret)[1:-1],
        once,
        quote(once, safe=""),
        quote_plus(secret),
        base64.b64encode(secret.encode("utf-8", "surrogatepass")).decode(),
        base64.urlsafe_b64encode(secret.encode("utf-8", "surrogatepass")).decode(),
    }
    if username is not None:
        pair = f"{username}:{secret}".encode("utf-8", "surrogatepass")
        forms |= {base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode()}
    return sorted(f for f in forms if f)


def shapes(secret: str, username: str = "svc-user") -> dict[str, str]:
    """How an upstream may echo a secret, each a string that gives the secret back when decoded."""
    percent_all = "".join(f"%{b:02X}" for b in secret.encode("utf-8", "surrogatepass"))
    return {
        "u_every_character": _u(secret, every=True),
        "u_first_character_only": _u(secret[0], every=True) + json.dumps(secret[1:], ensure_ascii=False)[1:-1],
        "u_non_ascii_only": json.dumps(secret)[1:-1],
        "percent_every_byte": percent_all,
        "percent_twice": quote(percent_all, safe=""),
        "percent_lower_case_partial": "".join(f"%{b:02x}" for b in secret[0].encode("utf-8", "surrogatepass"))
        + re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret[1:], safe="")),
        "form_encoded": quote_plus(secret),
        "basic_base64_unpadded": base64.b64encode(f"{username}:{secret}".encode()).decode().rstrip("="),
        "secret_base64": base64.b64encode(secret.encode("utf-8", "surrogatepass")).decode(),
        "html_references": "".join(f"&#{ord(c)};" if i % 2 else html.escape(c) for i, c in enumerate(secret)),
    }


def leaks(text: str, secret: str, username: str | None = None) -> list[str]:
    """The forms and shapes of ``secret`` that ``text`` holds."""
    wanted = {*listed_forms(secret, username), *shapes(secret, username or "svc-user").values()}
    return sorted(form for form in wanted if form and form in text)
