"""Safe, unique tool names: ``^[A-Za-z0-9_-]{1,64}$``."""

import re
import unicodedata

MAX_NAME = 64
SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_REPEATS = re.compile(r"_{2,}")


def make_safe(text: str) -> str:
    """Transliterate to ASCII, replace what is not a letter, digit, ``_`` or ``-``; may be empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    safe = _REPEATS.sub("_", _UNSAFE.sub("_", ascii_text)).strip("_-")
    return safe[:MAX_NAME].rstrip("_-") or safe[:MAX_NAME]


def synthesize(method: str, path: str) -> str:
    """A name from method and path: ``GET /pets/{petId}`` -> ``get_pets_petId``."""
    return make_safe(f"{method.lower()}_{path}") or method.lower()


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``, ... (shortened to stay within 64 characters)."""
    if name not in taken:
        return name
    counter = 2
    while True:
        suffix = f"_{counter}"
        candidate = name[: MAX_NAME - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        counter += 1
