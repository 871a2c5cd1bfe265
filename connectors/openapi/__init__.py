"""OpenAPI import: plain functions over plain data, no database.

``parse_schema(text)`` reads a Swagger 2.0 / OpenAPI 3.0 / 3.1 document (JSON or YAML), refuses
what cannot be used with a ``SchemaError`` and returns a ``ParsedSchema`` with its operations, each
with a standalone input JSON Schema, and a warning for everything repaired or skipped.
"""

from .errors import SchemaEmpty, SchemaError, SchemaTooLarge
from .operations import ParsedOperation
from .parser import MAX_ALIASES, MAX_BYTES, MAX_DEPTH, MAX_OPERATIONS, ParsedSchema, parse_schema

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_OPERATIONS",
    "ParsedOperation",
    "ParsedSchema",
    "SchemaEmpty",
    "SchemaError",
    "SchemaTooLarge",
    "parse_schema",
]
