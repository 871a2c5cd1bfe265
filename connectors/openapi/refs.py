"""``$ref`` handling: refuse what points outside the document, resolve the rest with prance.

Nothing here reads a file or makes a request. prance's ``RefResolver`` does the resolution (its
discovery, cycle detection and structural sharing), subclassed so that a target is only ever looked
up in the document already in memory (``_fetch_ref_value``) and every reference that is not internal
is left alone (``_skip_reference``): by then :func:`scan_document` has refused all of those anyway.
(prance still checks each reference string with ``is_pathname_valid``, which ``lstat``s names
directly under ``/``; that reads no file and fetches nothing.)
"""

from urllib.parse import unquote

from prance.util import resolver as prance_resolver
from prance.util.url import urlresource

from .errors import SchemaError, pointer_join, pointer_unescape

# A name for the document in memory; prance needs a URL to tell internal references from others.
# Never opened: lookups go to the document itself.
DOCUMENT_URL = "file:///openapi-document-in-memory.json"

# Keys whose values are literal data (examples, defaults), where "$ref" is just a key.
_LITERAL_KEYS = frozenset({"example", "default", "enum", "const"})
# Keys whose values are maps of names chosen by the author: a name there is never a keyword.
_NAMED_MAPS = frozenset(
    {
        "properties",
        "patternProperties",
        "definitions",
        "$defs",
        "schemas",
        "responses",
        "parameters",
        "examples",
        "headers",
        "links",
        "callbacks",
        "securitySchemes",
        "requestBodies",
        "pathItems",
        "paths",
        "encoding",
        "content",
        "variables",
        "mapping",
        "webhooks",
        "securityDefinitions",
        "dependentSchemas",
    }
)


def lookup(document, ref: str):
    """The value an internal reference (``#/a/b``) points to; KeyError when it points to nothing.

    The fragment is a URI fragment: percent-escapes are decoded before the JSON pointer is read.
    """
    if ref == "#":
        return document
    if not ref.startswith("#/"):
        raise KeyError(ref)
    return lookup_path(document, [pointer_unescape(unquote(part)) for part in ref[2:].split("/")])


def lookup_path(document, parts):
    node = document
    for part in parts:
        if type(node) is dict:
            node = node[part]
        elif type(node) is list:
            if not part.isdigit():
                raise KeyError(part)
            node = node[int(part)]
        else:
            raise KeyError(part)
    return node


def _is_literal(path: tuple, key: str) -> bool:
    parent = path[-1] if path else None
    if parent in _NAMED_MAPS:
        return False
    if key in _LITERAL_KEYS or (isinstance(key, str) and key.startswith("x-")):
        return True
    # An Example Object's value: /components/examples/<name>/value, .../examples/<name>/value
    return key == "value" and len(path) >= 2 and path[-2] == "examples"


def scan_document(document: dict, warnings: list[str]) -> None:
    """Walk the whole document once: refuse external references, repair what can be repaired.

    - a ``$ref`` that is not internal (``#/...``) anywhere outside literal data: SchemaError;
    - an internal ``$ref`` that points to nothing: replaced by an empty schema, with a warning;
    - a ``$ref`` that is not text: removed, with a warning;
    - ``required`` lists with repeated items: repeats removed, with a warning;
    - ``schema: null``: removed (so the default applies), with a warning.
    """
    stack = [(document, ())]
    while stack:
        node, path = stack.pop()
        if type(node) is dict:
            if "$ref" in node:
                ref = node["$ref"]
                if type(ref) is not str:
                    warnings.append(f"at {pointer_join(path) or '/'}: $ref is not text; removed")
                    del node["$ref"]
                else:
                    _check_ref(document, node, ref, path, warnings)
            required = node.get("required")
            if type(required) is list and len(required) > 1 and (path[-1:] != ("properties",)):
                unique = list(dict.fromkeys(item for item in required if type(item) is str))
                if len(unique) != len(required):
                    warnings.append(f"at {pointer_join((*path, 'required'))}: repeated or non-text items removed")
                    node["required"] = unique
            if "schema" in node and node["schema"] is None and path[-1:] != ("properties",):
                warnings.append(f"at {pointer_join((*path, 'schema'))}: schema is null; removed")
                del node["schema"]
            for key, value in node.items():
                if (type(value) is dict or type(value) is list) and not _is_literal(path, key):
                    stack.append((value, (*path, key)))
        else:
            for index, value in enumerate(node):
                if type(value) is dict or type(value) is list:
                    stack.append((value, (*path, index)))


def _check_ref(document, node: dict, ref: str, path: tuple, warnings: list[str]) -> None:
    where = pointer_join(path) or "/"
    if not ref.startswith("#"):
        raise SchemaError(
            f"The reference {ref!r} points outside the document. Remote and file references are never "
            "followed: put everything the schema needs in one document.",
            pointer=where,
        )
    try:
        lookup(document, ref)
    except (KeyError, IndexError):
        warnings.append(f"at {where}: $ref {ref!r} points to nothing in the document; replaced by an empty schema")
        node.clear()


class _InMemoryResolver(prance_resolver.RefResolver):
    """prance's resolver, held to the document in memory."""

    def __init__(self, specs, document):
        self._document = document
        self._document_resource = None
        self.origins: dict[int, str] = {}
        super().__init__(
            specs,
            url=DOCUMENT_URL,
            resolve_types=prance_resolver.RESOLVE_INTERNAL,
            recursion_limit=1,
            recursion_limit_handler=prance_resolver.keep_ref_on_recursion,
        )
        self._document_resource = urlresource(self.parsed_url)

    def _skip_reference(self, base_url, ref_url):
        return urlresource(ref_url) != self._document_resource

    def _fetch_ref_value(self, ref_url, obj_path):
        if urlresource(ref_url) != self._document_resource:  # pragma: no cover - skipped before
            raise SchemaError(f"The reference {ref_url.geturl()!r} points outside the document.")
        try:
            # prance unescapes ~0 and ~1 but leaves percent-escapes in place.
            return lookup_path(self._document, [unquote(part) for part in obj_path])
        except (KeyError, IndexError):
            return {}

    def _translate_value(self, ref_key, ref_url, resolved_value):
        # Remember where each inlined value came from, so that callers can turn it back into a
        # reference where inlining would nest too deeply.
        if isinstance(resolved_value, dict):
            self.origins[id(resolved_value)] = "#" + pointer_join(ref_key[1])
        return resolved_value


def resolve(specs, document) -> tuple[object, dict[int, str]]:
    """Resolve the internal references inside ``specs`` (a part of ``document``) with prance.

    Returns the resolved copy (subtrees referenced several times are shared, not copied; cycles
    stay as ``$ref``) and a map from ``id()`` of each inlined value to the pointer it came from.
    """
    resolver = _InMemoryResolver(specs, document)
    try:
        resolver.resolve_references()
    except SchemaError:
        raise
    except (LookupError, ValueError, TypeError) as error:
        raise SchemaError(f"A reference could not be resolved: {error}") from None
    return resolver.specs, resolver.origins
