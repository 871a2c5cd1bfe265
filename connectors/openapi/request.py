"""Build an HTTP request from an operation and arguments: plain functions over plain data.

``build_request`` takes what ``connectors.models.Operation`` stores (method, path, parameters,
request body description, servers), the connector's base URL and approved server origins, every
variable of the call (the connector's, the connection's and its connection strings), header
templates and the caller's arguments, and returns an ``HttpRequest``. It never touches the database
or the network. Variables are put in by one function (``substitute_variables``) with one set of
rules, in one pass over the base URL, the server URL and the header templates; the origin of the
call follows the base-URL rule (``server_url``).
Every problem is collected into one ``RequestBuildError`` that maps an argument path
(``arguments.id``) to its problems, so a caller can answer 400 before anything is sent.

Values cannot break out of where they go: path values are percent-encoded whole (``/`` becomes
``%2F``) and ``.``/``..`` segments and already-encoded slashes or dots are refused; query values
are encoded whole too; header and cookie values with CR, LF or other control characters are
refused.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from connectors.openapi import styles

_PATH_PARAMETER = re.compile(r"\{([^{}]+)\}")
_ENCODED_BREAKOUT = re.compile(r"%(2f|5c|2e|00)", re.IGNORECASE)
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class RequestBuildError(ValueError):
    """The arguments cannot make a safe request. ``errors`` maps an argument path to problems."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str | None = None
    # Credential id -> token version the request carries (set when credentials are applied), so that
    # a 401 refreshes exactly the token it saw.
    token_versions: dict[int, int] = field(default_factory=dict)

    def set_header(self, name: str, value: str) -> None:
        """Set a header, replacing one of the same name in any spelling of upper and lower case."""
        for key in [k for k in self.headers if k.lower() == name.lower()]:
            del self.headers[key]
        self.headers[name] = value

    def add_query(self, name: str, value: str) -> None:
        """Append one query parameter (credentials in the query string use this)."""
        sep = "&" if urlsplit(self.url).query else "?"
        fragmentless = self.url.split("#", 1)[0]
        self.url = f"{fragmentless}{sep}{quote(name, safe='')}={quote(value, safe='')}"

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def all_headers(self) -> dict[str, str]:
        """Headers as sent: with Content-Type and Cookie put in."""
        headers = dict(self.headers)
        if self.content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = self.content_type
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        return headers


def variables_as_dict(variables) -> dict[str, str]:
    """Connection/connector variables, stored as ``[{"name", "value"}]``, as a dict."""
    if isinstance(variables, dict):
        return {str(k): str(v) for k, v in variables.items()}
    return {str(v["name"]): "" if v.get("value") is None else str(v["value"]) for v in variables or [] if "name" in v}


# --- variables: one function, one set of rules ------------------------------------------------
#
# ``{name}`` stands for a variable (the connector's, the connection's, or a connection string) in
# the base URL, in a server URL and in a header template. In a URL it may fill one whole DNS label
# of the host (``[A-Za-z0-9-]{1,63}``) or stand in the path, where its value is percent-encoded;
# never in the scheme, the port, user info, the query or the fragment. In a header, its value may
# not hold CR, LF or other control characters. Unknown names are an error, wherever they stand.

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
HOST_LABEL = re.compile(r"^[A-Za-z0-9-]{1,63}$")
_URL_TEMPLATE = re.compile(r"^(?P<scheme>[^:/?#]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)(?P<rest>[?#].*)?$", re.S)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters a value keeps in a path segment: RFC 3986 unreserved characters, and "=", "," and ":",
# which every server reads as data. Everything else, "/" included, is percent-encoded.
_PATH_SAFE = "-._~=,:"
WHOLE_LABEL_HELP = "a variable in the host must fill one whole label, as in https://{tenant}.example.com"


def _split_authority(authority: str) -> tuple[str, str | None]:
    """(host, port) of an authority without user info; the port is None when absent."""
    if authority.startswith("["):
        end = authority.find("]")
        host, rest = (authority[: end + 1], authority[end + 1 :]) if end != -1 else (authority, "")
        return host, rest[1:] if rest.startswith(":") else None
    host, sep, port = authority.rpartition(":")
    return (host, port) if sep else (authority, None)


def url_template_places(template: str) -> tuple[dict[str, set[str]], list[str]]:
    """Where each ``{name}`` of a URL template stands (``"host"`` or ``"path"``), and what is wrong
    with the template (a variable in the scheme, the port, user info, the query or the fragment,
    or a variable that is only part of a host label)."""
    places: dict[str, set[str]] = {}
    problems: list[str] = []
    if not PLACEHOLDER.search(template):
        return places, problems
    match = _URL_TEMPLATE.match(template)
    if match is None:
        return places, ["variables can stand only in the host or the path of an absolute URL"]
    if PLACEHOLDER.search(match["scheme"]):
        problems.append("a variable cannot stand in the scheme")
    authority = match["authority"]
    if "@" in authority:
        problems.append("the URL cannot carry a user name or password")
        authority = authority.rpartition("@")[2]
    host, port = _split_authority(authority)
    if port is not None and PLACEHOLDER.search(port):
        problems.append("a variable cannot stand in the port")
    for label in host.split("."):
        if not PLACEHOLDER.search(label):
            continue
        whole = PLACEHOLDER.fullmatch(label)
        if whole is None or host.startswith("["):
            problems.append(WHOLE_LABEL_HELP)
            continue
        places.setdefault(whole.group(1), set()).add("host")
    for name in PLACEHOLDER.findall(match["path"]):
        places.setdefault(name, set()).add("path")
    if match["rest"] and PLACEHOLDER.search(match["rest"]):
        problems.append("a variable cannot stand in the query or the fragment")
    return places, problems


def variable_value_problem(value: str, place: str) -> str | None:
    """Why ``value`` cannot stand where a variable of this kind stands (``host``, ``path`` or
    ``header``), or None."""
    if place == "host":
        if not HOST_LABEL.match(value):
            return "must be one DNS label: 1 to 63 letters, digits or hyphens (no dots, colons or slashes)"
        return None
    if _CONTROL.search(value):
        return "must not hold line breaks or other control characters"
    if place == "path" and any(segment in {".", ".."} for segment in re.split(r"[/\\]", value)):
        return "must not hold '.' or '..' path segments"
    return None


def substitute_variables(text: str, variables: dict[str, str], *, where: str, errors: dict, part: str = "url") -> str:
    """Put ``{name}`` variables into a URL template (``part="url"``) or a header value
    (``part="header"``) under the rules above; every problem goes into ``errors[where]``."""

    def problem(message: str) -> None:
        errors.setdefault(where, []).append(message)

    def value_of(name: str, place: str) -> str | None:
        # A header template may be a secret (custom headers): its problems never quote it.
        what = "a variable the header names" if place == "header" else f"the variable {{{name}}}"
        if name not in variables:
            problem(f"{what} has no value")
            return None
        value = variables[name]
        reason = variable_value_problem(value, place)
        if reason:
            problem(f"the value of {what} {reason}")
            return None
        return value

    if not PLACEHOLDER.search(text):
        if part == "header" and _CONTROL.search(text):
            problem("a header value must not hold line breaks or other control characters")
        return text
    if part == "header":
        if _CONTROL.search(PLACEHOLDER.sub("", text)):
            problem("a header value must not hold line breaks or other control characters")
        return PLACEHOLDER.sub(lambda m: value_of(m.group(1), "header") or "", text)

    _places, problems = url_template_places(text)
    for message in problems:
        problem(message)
    if problems:
        return ""
    match = _URL_TEMPLATE.match(text)
    host, port = _split_authority(match["authority"])
    labels = [
        (value_of(m.group(1), "host") or "") if (m := PLACEHOLDER.fullmatch(label)) else label
        for label in host.split(".")
    ]
    path = PLACEHOLDER.sub(lambda m: quote(value_of(m.group(1), "path") or "", safe=_PATH_SAFE), match["path"])
    authority = ".".join(labels) + ("" if port is None else f":{port}")
    return f"{match['scheme']}://{authority}{path}{match['rest'] or ''}"


# --- the origin of a call ---------------------------------------------------------------------
#
# The connector's base URL (the administrator's API endpoint) fixes the origin of every call. A
# server entry of the schema on the document's own origin (its top-level servers, or the Swagger
# host) is mapped onto the base URL, keeping its path; one on another origin is used only when the
# administrator approved that origin on the connector. Server entries are classified when the
# schema is imported (``server_entries``), as dicts the request builder reads.

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def origin(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, lower-case, without a default port; "" if none."""
    match = _URL_TEMPLATE.match(url or "")
    if match is None:
        return ""
    scheme = match["scheme"].lower()
    host, port = _split_authority(match["authority"].rpartition("@")[2])
    host = host.lower().rstrip(".")
    if not scheme or not host:
        return ""
    if port in ("", _DEFAULT_PORTS.get(scheme)):
        port = None
    return f"{scheme}://{host}" + ("" if port is None else f":{port}")


def _is_absolute(url: str) -> bool:
    return bool(_URL_TEMPLATE.match(url or ""))


def server_entries(servers, document_servers) -> list[dict]:
    """An operation's ``servers`` (URLs, defaults of server variables put in) classified against the
    document's own servers: ``{"url", "document_path"}`` for an entry on the document's origin,
    ``{"url", "origin"}`` for one on another origin, ``{"url"}`` for a relative one."""
    own: dict[str, str] = {}
    for url in document_servers or []:
        if isinstance(url, str) and _is_absolute(url):
            own.setdefault(origin(url), _URL_TEMPLATE.match(url)["path"])
    entries = []
    for url in servers or []:
        url = url.get("url", "") if isinstance(url, dict) else str(url)
        if not _is_absolute(url):
            entries.append({"url": url})
        elif origin(url) in own:
            entries.append({"url": url, "document_path": own[origin(url)]})
        else:
            entries.append({"url": url, "origin": origin(url)})
    return entries


def used_server(servers) -> dict | None:
    """The server entry calls of the operation use: the first absolute or rooted one."""
    for server in servers or []:
        entry = server if isinstance(server, dict) else {"url": str(server)}
        url = str(entry.get("url") or "")
        if _is_absolute(url) or url.startswith("/"):
            return entry
    return None


def _mapped_path(base_path: str, entry_path: str, document_path: str) -> str:
    """An entry on the document's origin, moved under the base URL. The base URL stands for the
    document's server: an entry below that server's path keeps what is below it; any other path of
    the origin is kept whole, under the base URL's own prefix."""
    base_path, entry_path, doc = base_path.rstrip("/"), entry_path.rstrip("/"), document_path.rstrip("/")
    if entry_path == doc or entry_path.startswith(doc + "/"):
        return base_path + entry_path[len(doc) :]
    prefix = base_path[: len(base_path) - len(doc)] if doc and base_path.endswith(doc) else base_path
    return prefix + entry_path


def approval_help(entry_origin: str) -> str:
    return (
        f"this method's server {entry_origin} is on another origin than the connector's API endpoint; "
        f"an administrator must approve {entry_origin} on the connector first (\"Approved server origins\" "
        "on the connector's admin page, or approved_origins in PATCH /api/v1/connectors/{id}/)"
    )


def server_url(
    *, base_url: str, servers, variables: dict[str, str], errors: dict, approved_origins=()
) -> str:
    """The URL calls of the operation start with, under the base-URL rule (see above)."""
    entry = used_server(servers)
    url_template, where = base_url or "", "base_url"
    if entry is not None:
        url = str(entry.get("url") or "")
        if isinstance(entry.get("variables"), dict):
            # An OpenAPI server object: its own variables take their defaults (as an import does).
            for key, variable in entry["variables"].items():
                if isinstance(variable, dict) and variable.get("default") is not None:
                    url = url.replace("{" + str(key) + "}", str(variable["default"]))
        base_match = _URL_TEMPLATE.match(base_url or "")
        if not _is_absolute(url):
            url_template = (base_url or "").rstrip("/") + url
        elif origin(url) == origin(base_url):
            url_template = url
        elif "document_path" in entry and base_match:
            base_origin_part = f"{base_match['scheme']}://{base_match['authority']}"
            path = _mapped_path(base_match["path"], _URL_TEMPLATE.match(url)["path"], str(entry["document_path"]))
            url_template = base_origin_part + path
        else:
            approved = {origin(o) for o in approved_origins or []}
            entry_origin = origin(url)
            if entry_origin not in approved and not PLACEHOLDER.search(entry_origin):
                errors.setdefault("server", []).append(approval_help(entry_origin))
                return ""
            # A variable in its host is checked once filled in: the result must be approved.
            url_template, where = url, "server"
    url = substitute_variables(url_template, variables, where=where, errors=errors)
    if errors.get(where):
        return ""
    match = _URL_TEMPLATE.match(url)
    if match is None or match["scheme"].lower() not in {"http", "https"} or not match["authority"]:
        errors.setdefault(where, []).append("the URL must be an absolute http or https URL")
        return ""
    if "@" in match["authority"]:
        errors.setdefault(where, []).append("the URL must not carry a user name or password")
        return ""
    if where == "server" and origin(url) not in {origin(o) for o in approved_origins or []}:
        errors.setdefault("server", []).append(approval_help(origin(url)))
        return ""
    return url.split("#", 1)[0].rstrip("/")


def _check_path_value(raw, where: str, errors: dict) -> None:
    texts = raw if isinstance(raw, list) else list(raw.values()) if isinstance(raw, dict) else [raw]
    for item in texts:
        text = styles.scalar(item)
        if any(segment in {".", ".."} for segment in re.split(r"[/\\]", text)):
            errors.setdefault(where, []).append("'.' and '..' path segments are not allowed")
        if _ENCODED_BREAKOUT.search(text):
            errors.setdefault(where, []).append("encoded slashes, dots and NUL are not allowed in a path value")
        if any(ord(ch) < 32 for ch in text):
            errors.setdefault(where, []).append("control characters are not allowed in a path value")


def _content_kind(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    if base == "application/json" or base.endswith("+json"):
        return "json"
    if base == "application/x-www-form-urlencoded":
        return "form"
    if base.startswith("multipart/"):
        return "multipart"
    return "raw"


def _form_body(value, encoding: dict) -> bytes:
    if not isinstance(value, dict):
        raise styles.StyleError("a form body must be an object")
    pieces: list[str] = []
    for key, item in value.items():
        if item is None:
            continue
        enc = encoding.get(key) or {}
        if enc.get("contentType") and isinstance(item, (dict, list)):
            pieces.append(f"{styles.encode(key)}={styles.encode(styles.scalar(item))}")
            continue
        pieces.extend(
            styles.serialize_query(
                key,
                item,
                style=enc.get("style", "form"),
                explode=enc.get("explode"),
                allow_reserved=bool(enc.get("allowReserved")),
            )
        )
    return "&".join(pieces).encode()


def _multipart_body(value, encoding: dict, boundary: str) -> bytes:
    if not isinstance(value, dict):
        raise styles.StyleError("a multipart body must be an object")
    out = bytearray()
    for key, item in value.items():
        if item is None:
            continue
        enc = encoding.get(key) or {}
        items = item if isinstance(item, list) and not enc.get("contentType", "").endswith("json") else [item]
        for part in items:
            if isinstance(part, (dict, list)):
                data, ctype = json.dumps(part).encode(), enc.get("contentType") or "application/json"
            else:
                data, ctype = styles.scalar(part).encode(), enc.get("contentType") or "text/plain; charset=utf-8"
            safe_key = key.replace('"', "%22").replace("\r", "").replace("\n", "")
            disposition = f'form-data; name="{safe_key}"'
            if ctype.split(";")[0] == "application/octet-stream" or enc.get("filename"):
                disposition += f'; filename="{safe_key}"'
            out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {ctype}\r\n\r\n".encode()
            out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def build_body(value, request_body: dict) -> tuple[bytes, str]:
    """Serialize a request body; answers (bytes, Content-Type header value)."""
    content_type = request_body.get("content_type") or "application/json"
    encoding = request_body.get("encoding") or {}
    kind = _content_kind(content_type)
    if kind == "json":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), content_type
    if kind == "form":
        return _form_body(value, encoding), content_type
    if kind == "multipart":
        boundary = "----platform" + secrets.token_hex(12)
        return _multipart_body(value, encoding, boundary), f"multipart/form-data; boundary={boundary}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False).encode(), content_type
    return styles.scalar(value).encode(), content_type


def build_request(
    *,
    method: str,
    path: str,
    base_url: str,
    arguments: dict,
    parameters: list[dict] | None = None,
    request_body: dict | None = None,
    servers: list | None = None,
    variables=None,
    header_templates: dict[str, str] | None = None,
    approved_origins=(),
) -> HttpRequest:
    """The HTTP request the operation makes with these arguments (no credentials yet).

    ``variables``: every variable of the call. ``header_templates``: header templates of the connection
    (custom headers), which may hold ``{name}`` and win over header parameters of the same name.
    ``approved_origins``: the origins the administrator approved for servers on other origins.
    """
    errors: dict[str, list[str]] = {}
    variables = variables_as_dict(variables)
    arguments = arguments or {}
    url = server_url(
        base_url=base_url, servers=servers, variables=variables, errors=errors, approved_origins=approved_origins
    )

    path_values: dict[str, str] = {}
    query: list[str] = []
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for param in parameters or []:
        name = param["name"]
        location = param.get("in", "query")
        prop = param.get("property") or name
        where = f"arguments.{prop}"
        value = arguments.get(prop)
        # A null, like an empty list or object outside a path, is an undefined value (RFC 6570),
        # which is left out of the request.
        if value is None or (location != "path" and styles._is_empty(value) and not param.get("content_type")):
            if param.get("required") or location == "path":
                errors.setdefault(where, []).append(
                    "this argument is required" if value is None else "this argument cannot be empty"
                )
            continue
        if param.get("content_type"):
            value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        explode = param.get("explode")
        try:
            if location == "path":
                _check_path_value(value, where, errors)
                path_values[name] = styles.serialize_path(
                    name, value, style=param.get("style") or "simple", explode=bool(explode)
                )
            elif location == "query":
                query.extend(
                    styles.serialize_query(
                        name,
                        value,
                        style=param.get("style") or "form",
                        explode=explode,
                        allow_reserved=bool(param.get("allow_reserved")),
                    )
                )
            elif location == "header":
                if not _HEADER_NAME.match(name):
                    errors.setdefault(where, []).append("the header name is not valid")
                    continue
                headers[name] = styles.serialize_header(value, explode=bool(explode))
            elif location == "cookie":
                cookies.update(styles.serialize_cookie(name, value, explode=True if explode is None else explode))
        except styles.StyleError as exc:
            errors.setdefault(where, []).append(str(exc))

    described = {p["name"] for p in parameters or [] if p.get("in") == "path"}

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name in path_values:
            return path_values[name]
        if name in described:
            return ""
        errors.setdefault("path", []).append(f"the path parameter {{{name}}} is not described")
        return ""

    full_path = _PATH_PARAMETER.sub(fill, path or "")
    if full_path and not full_path.startswith("/"):
        full_path = "/" + full_path
    url = url + full_path
    if query:
        url += ("&" if "?" in url else "?") + "&".join(query)

    body = content_type = None
    if request_body:
        prop = request_body.get("property") or "body"
        if prop in arguments:
            try:
                body, content_type = build_body(arguments[prop], request_body)
            except styles.StyleError as exc:
                errors.setdefault(f"arguments.{prop}", []).append(str(exc))
        elif request_body.get("required"):
            errors.setdefault(f"arguments.{prop}", []).append("this argument is required")

    request = HttpRequest(
        method=method.upper(), url=url, headers=headers, cookies=cookies, body=body, content_type=content_type
    )
    for name, template in (header_templates or {}).items():
        where = f"headers.{name}"
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            errors.setdefault(where, []).append("the header name is not valid")
            continue
        value = substitute_variables(str(template), variables, where=where, errors=errors, part="header")
        request.set_header(name, value)
    if errors:
        raise RequestBuildError(errors)
    return request
