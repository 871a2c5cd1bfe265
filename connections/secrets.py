"""The one secrets module: reading secrets, applying them to a call, and keeping them out of records.

- **Reading**: ``credential_secret_read`` / ``credential_tokens_read`` decrypt a credential's
  secret and tokens (``SecretUnreadable`` when no key of ``FIELD_ENCRYPTION_KEY`` opens them).
- **A call**: ``call_secrets(connection=..., security=...)`` reads the connection's credentials once
  and answers what the request builder needs (every variable, connection strings included, and the
  custom header templates) and the credentials to apply; ``credentials_apply(call=..., request=...)``
  then puts API keys, Basic, bearer and OAuth2 tokens and webhook signatures on the built request and
  answers the secret forms to redact (and to keep from following a redirect to another origin).
- **Forms**: ``secret_forms`` builds, once, every form in which a secret may come back: raw;
  JSON-escaped (``\\u`` for every character, for non-ASCII only, and ``json.dumps``'s own);
  percent-encoded once and twice; form-encoded; base64 of ``user:password`` and of the secret itself.
- **Redacting**: ``redact(value, forms)`` replaces each of them with ``REDACTED`` in text, bytes,
  numbers and nested dicts and lists. A list of forms cannot cover a secret escaped only in part
  (``"\\u0053K..."``), so text is also read as a reader would decode it: JSON and backslash
  escapes, percent-encoding (once, twice, ``+`` for space) and HTML character references, up to three
  layers deep, and what decodes to a secret is replaced where it stands in the original text.
"""

from __future__ import annotations

import base64
import heapq
import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from html.entities import html5
from urllib.parse import quote, quote_plus

from connections import oauth
from connections.credentials import select_action_credentials, webhook_signature
from connections.kinds import Kind
from connections.models import Connection, ConnectionCredential, Credential
from connections.services import SecretUnreadable, credential_secret_read, credential_tokens_read
from connectors.openapi.request import PLACEHOLDER, HttpRequest, variables_as_dict
from integrations_platform.errors import ApplicationError

__all__ = [
    "REDACTED",
    "CallSecrets",
    "SecretUnreadable",
    "call_secrets",
    "connection_secret_forms",
    "credential_secret_read",
    "credential_tokens_read",
    "credentials_apply",
    "redact",
    "secret_forms",
    "tokens_refresh_after_unauthorised",
]

REDACTED = "[redacted]"


# --- forms ------------------------------------------------------------------------------------


def _utf16_units(text: str) -> list[int]:
    data = text.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _u_escaped(text: str, *, ascii_too: bool, upper: bool) -> str:
    spell = "\\u{:04X}" if upper else "\\u{:04x}"
    return "".join(
        ch if (ord(ch) < 128 and not ascii_too) else "".join(spell.format(u) for u in _utf16_units(ch)) for ch in text
    )


def _base64_forms(raw: bytes) -> set[str]:
    forms = set()
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms.update({encoded, encoded.rstrip("=")})
    return forms


def _forms_of(value: str) -> set[str]:
    percent = quote(value, safe="")
    return {
        value,
        _u_escaped(value, ascii_too=True, upper=False),
        _u_escaped(value, ascii_too=True, upper=True),
        _u_escaped(value, ascii_too=False, upper=False),
        _u_escaped(value, ascii_too=False, upper=True),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        percent,
        quote(percent, safe=""),
        quote_plus(value),
        *_base64_forms(value.encode("utf-8", "surrogatepass")),
    } - {""}


def secret_forms(values=(), *, basic=()) -> list[str]:
    """Every form of these secret strings (and of ``(username, password)`` pairs for Basic),
    longest first, each once."""
    forms: set[str] = set()
    for value in values:
        if isinstance(value, str) and value:
            forms |= _forms_of(value)
    for username, password in basic:
        if username or password:
            forms |= _base64_forms(f"{username}:{password}".encode("utf-8", "surrogatepass"))
    return _ordered(forms)


def _ordered(forms) -> list[str]:
    return sorted({f for f in forms if isinstance(f, str) and f}, key=lambda f: (-len(f), f))


def _secret_values(credential: Credential, secret: dict, tokens: dict) -> tuple[list[str], list[tuple[str, str]]]:
    values: list[str] = []
    for key, value in secret.items():
        if key == "headers" and isinstance(value, dict):
            values += [v for v in value.values() if isinstance(v, str)]
        elif isinstance(value, str):
            values.append(value)
    for key in ("access_token", "refresh_token", "id_token"):
        if isinstance(tokens.get(key), str):
            values.append(tokens[key])
    basic = []
    if credential.kind == Kind.HTTP_BASIC:
        basic.append(((credential.config or {}).get("username", ""), secret.get("password", "")))
    return values, basic


def _credential_forms(credential: Credential, read: _Reader) -> list[str]:
    try:
        secret, tokens = read.secret(credential), read.tokens(credential)
    except ApplicationError:
        # Unreadable ciphertext is no secret in clear; still keep the stored text itself out.
        return secret_forms([v for v in (credential.secret, credential.tokens) if v])
    values, basic = _secret_values(credential, secret, tokens)
    return secret_forms(values, basic=basic)


def connection_secret_forms(connection: Connection, links=None, read: _Reader | None = None) -> list[str]:
    """Every form of every secret of the connection (action and trigger credentials)."""
    if links is None:
        links = ConnectionCredential.objects.filter(connection=connection).select_related("credential")
    read = read or _Reader()
    forms: set[str] = set()
    for link in links:
        forms.update(_credential_forms(link.credential, read))
    return _ordered(forms)


# --- reading once per call --------------------------------------------------------------------


class _Reader:
    """Decrypts each credential once for one call."""

    def __init__(self):
        self._secrets: dict[int, dict] = {}
        self._tokens: dict[int, dict] = {}

    def secret(self, credential: Credential) -> dict:
        if credential.pk not in self._secrets:
            self._secrets[credential.pk] = credential_secret_read(credential)
        return self._secrets[credential.pk]

    def tokens(self, credential: Credential) -> dict:
        if credential.pk not in self._tokens:
            self._tokens[credential.pk] = credential_tokens_read(credential)
        return self._tokens[credential.pk]


@dataclass
class CallSecrets:
    """What one call takes from its connection's credentials, read once."""

    # Every variable of the call: the connector's, the connection's, and its connection strings.
    variables: dict[str, str]
    # Custom headers: templates the request builder fills in the same pass as the URL.
    header_templates: dict[str, str]
    # The credentials put on the built request, in order (webhook signatures last).
    to_apply: list[Credential]
    # Every secret of the connection, in every form.
    forms: list[str]
    # The credentials meet one alternative of the method's security requirements (not "all of them,
    # in order" for a method that declares none): each scheme of it needs its own place.
    by_requirement: bool = False
    _read: _Reader = field(default_factory=_Reader, repr=False)


def call_secrets(*, connection: Connection, security) -> CallSecrets:
    """Read the connection's credentials for one call of an operation with these security
    requirements. ``CredentialsNotSatisfied`` when none of its alternatives is satisfied."""
    links = list(
        ConnectionCredential.objects.filter(connection=connection)
        .select_related("credential")
        .order_by("position", "id")
    )
    action = [link.credential for link in links if link.purpose == ConnectionCredential.Purpose.ACTION]
    read = _Reader()
    forms = connection_secret_forms(connection, links, read)
    variables = {
        **variables_as_dict(connection.connector.variables),
        **variables_as_dict(connection.variables),
    }
    for credential in action:
        if credential.kind == Kind.CONNECTION_STRING:
            name = (credential.config or {}).get("variable") or "connection_string"
            variables[name] = str(read.secret(credential).get("connection_string", ""))
    chosen = select_action_credentials(connection, security, action)
    headers: dict[str, str] = {}
    for credential in chosen:
        if credential.kind == Kind.CUSTOM_HEADERS:
            headers.update({str(k): str(v) for k, v in (read.secret(credential).get("headers") or {}).items()})
    to_apply = sorted((c for c in chosen if c.kind != Kind.CUSTOM_HEADERS), key=lambda c: c.kind == Kind.WEBHOOK)
    return CallSecrets(
        variables=variables, header_templates=headers, to_apply=to_apply, forms=forms,
        by_requirement=bool(security), _read=read,
    )


def credentials_apply(*, call: CallSecrets, request: HttpRequest) -> list[str]:
    """Put the call's credentials on the built ``request`` (in place) and answer every secret form to
    redact: the connection's, and those of the values just applied (a refreshed token, filled-in
    custom headers). An OAuth2 token about to expire is refreshed first."""
    # A filled-in custom header is a secret too, unless its template is nothing but variables.
    applied: list[str] = [
        request.headers[name]
        for name, template in call.header_templates.items()
        if name in request.headers and PLACEHOLDER.sub("", template).strip()
    ]
    basic: list[tuple[str, str]] = []
    written: dict[tuple[str, str], Credential] = {}
    for credential in call.to_apply:
        slot = _slot(credential) if call.by_requirement else None
        if slot is not None and slot in written:
            # A requirement of two schemes is met by both or not at all: never one silently over the
            # other (HTTP Basic and a bearer token both in Authorization).
            first = written[slot]
            raise ApplicationError(
                f"The credentials '{first.name}' and '{credential.name}' both need {_place(slot)}, which can hold "
                "only one of them: remove one from the connection's action credentials.",
                field_errors={"action_credentials": [f"'{first.name}' and '{credential.name}' conflict."]},
                code="credentials_conflict",
            )
        if slot is not None:
            written[slot] = credential
        values, pairs = _apply_one(credential, request, call._read)
        applied += values
        basic += pairs
    for name, value in request.all_headers().items():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            # HTTP/1.1 header values are bytes; say which header, never the value.
            raise ApplicationError(
                f"The header {name} holds characters an HTTP header cannot carry.",
                field_errors={f"headers.{name}": ["Only Latin-1 characters can be sent in a header."]},
                code="credential_unsendable",
            ) from None
    return _ordered({*call.forms, *secret_forms(applied, basic=basic)})


_AUTHORIZATION = ("header", "authorization")


def _slot(credential: Credential) -> tuple[str, str] | None:
    """The place of a request a credential writes (one credential per place)."""
    config = credential.config or {}
    if credential.kind == Kind.API_KEY:
        where = config.get("in", "header")
        name = str(config.get("name", ""))
        return where, name.lower() if where == "header" else name
    if credential.kind in (
        Kind.HTTP_BASIC, Kind.HTTP_BEARER, Kind.OAUTH2_AUTHORIZATION_CODE, Kind.OAUTH2_CLIENT_CREDENTIALS
    ):
        return _AUTHORIZATION
    if credential.kind == Kind.WEBHOOK:
        return "header", str(config.get("signature_header") or "X-Signature-256").lower()
    return None


def _place(slot: tuple[str, str]) -> str:
    if slot == _AUTHORIZATION:
        return "the Authorization header"
    where, name = slot
    return f"the {where} {'parameter' if where == 'query' else where} {name}"


def _apply_one(credential: Credential, request: HttpRequest, read: _Reader) -> tuple[list[str], list]:
    config = credential.config or {}
    kind = credential.kind
    if kind in (Kind.OAUTH2_AUTHORIZATION_CODE, Kind.OAUTH2_CLIENT_CREDENTIALS):
        credential = oauth.credential_ensure_token(credential=credential)
        tokens = credential_tokens_read(credential)
        access = tokens.get("access_token", "")
        request.set_header("Authorization", f"{tokens.get('token_type_header') or 'Bearer'} {access}")
        request.token_versions[credential.pk] = credential.token_version
        return [access, tokens.get("refresh_token", "")], []
    secret = read.secret(credential)
    if kind == Kind.API_KEY:
        key = secret.get("key", "")
        prefix = config.get("prefix", "")
        value = f"{prefix} {key}" if prefix else key
        where = config.get("in", "header")
        if where == "query":
            request.add_query(config["name"], value)
        elif where == "cookie":
            request.cookies[config["name"]] = value
        else:
            request.set_header(config["name"], value)
        return [key], []
    if kind == Kind.HTTP_BASIC:
        username, password = config.get("username", ""), secret.get("password", "")
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
        request.set_header("Authorization", f"Basic {encoded}")
        return [password], [(username, password)]
    if kind == Kind.HTTP_BEARER:
        token = secret.get("token", "")
        request.set_header("Authorization", f"Bearer {token}")
        return [token], []
    if kind == Kind.WEBHOOK:
        signing = secret.get("signing_secret", "")
        header = config.get("signature_header") or "X-Signature-256"
        request.set_header(header, config.get("signature_prefix", "sha256=") + webhook_signature(signing, request.body))
        return [signing], []
    return [], []


def tokens_refresh_after_unauthorised(request: HttpRequest) -> bool:
    """After a 401: refresh the OAuth2 tokens the request carried; True when a retry may succeed."""
    if not request.token_versions:
        return False
    return oauth.credentials_refresh_after_unauthorised(request=request)


# --- redacting --------------------------------------------------------------------------------
#
# A view is the text as one decoding reads it, with a map from each stretch of the decoded text back
# to where it stands in the text it was decoded from. Views are built only when the text holds a
# character the decoding acts on, and at most _MAX_VIEWS of them per text.

_MAX_VIEWS = 16
_MAX_DEPTH = 3
_ROUNDS = 4
_TAIL_MIN = 4  # a cut-off body ending in this many characters of a secret form loses them too

_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "'": "'", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_BACKSLASH = re.compile(
    r"\\(?:u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|u([0-9a-fA-F]{4})"
    r"|U([0-9a-fA-F]{8})|x([0-9a-fA-F]{2})|([\"\\/'bfnrt]))"
)
# Each pattern starts with one literal character: the regular expression engine then skips to it.
_PERCENT_RUN = re.compile(r"%[0-9A-Fa-f]{2}(?:%[0-9A-Fa-f]{2})*")
_ENTITY = re.compile(r"&(?:#([0-9]{1,7});?|#[xX]([0-9a-fA-F]{1,6});?|([A-Za-z][A-Za-z0-9]{1,31};))")


def _backslash_pieces(text: str):
    for m in _BACKSLASH.finditer(text):
        high, low, unit, wide, byte, simple = m.groups()
        if high:
            ch = chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00))
        elif unit:
            ch = chr(int(unit, 16))
        elif wide:
            code = int(wide, 16)
            if code > 0x10FFFF:
                continue
            ch = chr(code)
        elif byte:
            ch = chr(int(byte, 16))
        else:
            ch = _SIMPLE_ESCAPES[simple]
        yield m.start(), m.end(), ch


def _utf8_length(lead: int) -> int:
    if lead < 0x80:
        return 1
    if 0xC2 <= lead < 0xE0:
        return 2
    if 0xE0 <= lead < 0xF0:
        return 3
    if 0xF0 <= lead < 0xF5:
        return 4
    return 0


def _percent_run_pieces(start: int, run: str):
    data = bytes.fromhex(run.replace("%", ""))
    i = 0
    while i < len(data):
        n = _utf8_length(data[i])
        if n:
            try:
                ch = data[i : i + n].decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                yield start + 3 * i, start + 3 * (i + n), ch
                i += n
                continue
        # Not UTF-8: read the byte as Latin-1, as older encoders wrote it.
        yield start + 3 * i, start + 3 * i + 3, chr(data[i])
        i += 1


def _percent_pieces(text: str):
    for m in _PERCENT_RUN.finditer(text):
        yield from _percent_run_pieces(m.start(), m.group(0))


def _plus_pieces(text: str):
    at = text.find("+")
    while at != -1:
        yield at, at + 1, " "
        at = text.find("+", at + 1)


def _form_pieces(text: str):
    # Two scans merged: a pattern starting with one literal character is searched far faster.
    return heapq.merge(_plus_pieces(text), _percent_pieces(text))


def _entity_pieces(text: str):
    for m in _ENTITY.finditer(text):
        decimal, hexadecimal, name = m.groups()
        if name:
            ch = html5.get(name)
            if ch is None:
                continue
        else:
            code = int(decimal) if decimal else int(hexadecimal, 16)
            if code > 0x10FFFF:
                continue
            ch = chr(code)
        yield m.start(), m.end(), ch


_DECODINGS = (("\\", _backslash_pieces), ("%", _percent_pieces), ("+", _form_pieces), ("&", _entity_pieces))


class _View:
    __slots__ = ("parent", "segments", "starts", "text")

    def __init__(self, text: str, parent: _View | None = None, segments=None):
        self.text = text
        self.parent = parent
        # (start in this text, start and end in the parent's text, literal: maps one to one)
        self.segments = segments or []
        self.starts = [s[0] for s in self.segments]

    @classmethod
    def decoded(cls, parent: _View, pieces) -> _View | None:
        out: list[str] = []
        segments = []
        pos = length = 0
        source = parent.text
        for start, end, ch in pieces:
            if start > pos:
                segments.append((length, pos, start, True))
                out.append(source[pos:start])
                length += start - pos
            segments.append((length, start, end, False))
            out.append(ch)
            length += len(ch)
            pos = end
        if not segments:
            return None
        if pos < len(source):
            segments.append((length, pos, len(source), True))
            out.append(source[pos:])
        return cls("".join(out), parent, segments)

    def span_in_original(self, start: int, end: int) -> tuple[int, int]:
        view = self
        while view.parent is not None:
            i = bisect_right(view.starts, start) - 1
            at, source_start, _source_end, literal = view.segments[i]
            new_start = source_start + (start - at) if literal else source_start
            j = bisect_right(view.starts, end - 1) - 1
            at, source_start, source_end, literal = view.segments[j]
            new_end = source_start + (end - at) if literal else source_end
            start, end, view = new_start, new_end, view.parent
        return start, end


# Characters a decoding may produce that start another escape: always decoded, so that a secret
# encoded twice (%2541, &amp;#83;, \\u0053, %2B for a space) is found one layer further down.
_ESCAPE_SYNTAX = frozenset("\\%&+")


@dataclass(frozen=True)
class _Plan:
    """What to look for, worked out once per list of forms."""

    # The forms no decoding turns into another form: what a decoded view needs looking for (a
    # percent-encoded form is found as the raw secret one decoding further).
    in_views: tuple[str, ...]
    # Characters worth decoding: an escape producing none of them cannot be part of a secret.
    wanted: frozenset[str]


@lru_cache(maxsize=256)
def _plan(ordered: tuple[str, ...]) -> _Plan:
    known = set(ordered)
    in_views = []
    for form in ordered:
        decodings = (_View.decoded(_View(form), pieces(form)) for _trigger, pieces in _DECODINGS)
        if not any(view is not None and view.text != form and view.text in known for view in decodings):
            in_views.append(form)
    wanted = frozenset("".join(in_views)) | _ESCAPE_SYNTAX
    return _Plan(in_views=tuple(in_views), wanted=wanted)


def _views(text: str, wanted: frozenset[str]) -> list[_View]:
    root = _View(text)
    views, seen, frontier = [root], {text}, [root]
    for _depth in range(_MAX_DEPTH):
        following = []
        for view in frontier:
            for trigger, pieces in _DECODINGS:
                if trigger not in view.text:
                    continue
                useful = (piece for piece in pieces(view.text) if not wanted.isdisjoint(piece[2]))
                child = _View.decoded(view, useful)
                if child is None or child.text in seen:
                    continue
                seen.add(child.text)
                views.append(child)
                following.append(child)
                if len(views) >= _MAX_VIEWS:
                    return views
        frontier = following
    return views


def _spans(text: str, ordered: tuple[str, ...], cut: bool) -> list[tuple[int, int]]:
    plan = _plan(ordered)
    spans = []
    for view in _views(text, plan.wanted):
        decoded = view.text
        forms = ordered if view.parent is None else plan.in_views
        for form in forms:
            if len(form) > len(decoded):
                continue
            at = decoded.find(form)
            while at != -1:
                spans.append(view.span_in_original(at, at + len(form)))
                at = decoded.find(form, at + 1)
        if cut:
            for form in ordered:
                for k in range(min(len(form) - 1, len(decoded)), _TAIL_MIN - 1, -1):
                    if decoded.endswith(form[:k]):
                        spans.append(view.span_in_original(len(decoded) - k, len(decoded)))
                        break
    return spans


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, pos = [], 0
    for start, end in merged:
        out += [text[pos:start], REDACTED]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _redact_text(text: str, ordered: tuple[str, ...], cut: bool = False) -> str:
    for _round in range(_ROUNDS):
        spans = _spans(text, ordered, cut)
        if not spans:
            return text
        text, cut = _replace(text, spans), False
    # A secret that the marker itself keeps making again: nothing of the text is kept.
    return REDACTED


def _redact(value, ordered: tuple[str, ...], cut: bool):
    if isinstance(value, str):
        return _redact_text(value, ordered, cut)
    if isinstance(value, bytes):
        return _redact_text(value.decode("utf-8", "surrogateescape"), ordered, cut).encode("utf-8", "surrogateescape")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        text = str(value)
        return REDACTED if _redact_text(text, ordered) != text else value
    if isinstance(value, dict):
        return {_redact(k, ordered, False): _redact(v, ordered, cut) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, ordered, cut) for v in value)
    return value


def redact(value, forms, *, cut: bool = False):
    """``value`` (text, bytes, a number, or nested dicts and lists of them) with every secret form
    replaced by ``REDACTED``, wherever a reader would decode one. ``cut``: the text was cut at a
    size limit, so a secret form it ends in the middle of is replaced too."""
    ordered = tuple(_ordered(forms or ()))
    if not ordered:
        return value
    return _redact(value, ordered, cut)
