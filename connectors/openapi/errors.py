"""The one error type of schema import."""


class SchemaError(Exception):
    """A schema that cannot be imported.

    ``message`` is a plain sentence; ``pointer`` a JSON pointer into the document (such as
    ``/paths/~1pets/get``) when the fault sits at a place in it; ``line`` and ``column``
    (1-based) for JSON and YAML syntax errors.
    """

    def __init__(self, message: str, *, pointer: str | None = None, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.pointer = pointer
        self.line = line
        self.column = column

    @property
    def where(self) -> str:
        if self.line is not None:
            if self.column is not None:
                return f"line {self.line}, column {self.column}"
            return f"line {self.line}"
        if self.pointer is not None:
            return f"at {self.pointer or '/'}"
        return "schema"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def pointer_escape(part) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")



class SchemaTooLarge(SchemaError):
    """The text is larger than the limit it was read with."""


class SchemaEmpty(SchemaError):
    """The text holds nothing but white space."""


def pointer_join(parts) -> str:
    """JSON pointer of a path of keys and indexes: ``("paths", "/pets")`` -> ``/paths/~1pets``."""
    return "".join("/" + pointer_escape(p) for p in parts)


def pointer_unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")
