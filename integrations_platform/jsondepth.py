"""JSON from outside, read with a bound on nesting.

Python's JSON decoder recurses once per level and raises ``RecursionError`` (not ``ValueError``)
about a thousand levels down, which every caller would have to know about; and a value nested a few
hundred levels deep is never a real tool argument, yet costs every later step (validation,
redaction, storage, rendering) a recursion of its own. :func:`loads` answers ``ValueError`` with a
clear message for both; :func:`check_depth` bounds a value that arrived some other way.
"""

from __future__ import annotations

import json

MAX_DEPTH = 64


class TooDeep(ValueError):
    """The value is nested more than :data:`MAX_DEPTH` levels deep."""

    def __init__(self, max_depth: int = MAX_DEPTH):
        super().__init__(f"The JSON is nested more than {max_depth} levels deep; at most {max_depth} are accepted.")


def depth_exceeds(value, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``value`` (dicts and lists of anything) nests deeper than ``max_depth``; iterative."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if level > max_depth:
            return True
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list | tuple))
    return False


def check_depth(value, max_depth: int = MAX_DEPTH):
    """``value`` itself, or :class:`TooDeep`."""
    if depth_exceeds(value, max_depth):
        raise TooDeep(max_depth)
    return value


def loads(text: str | bytes, max_depth: int = MAX_DEPTH, **kwargs):
    """``json.loads`` that answers ``ValueError`` (:class:`TooDeep`) for values nested too deeply."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise TooDeep(max_depth) from None
    return check_depth(value, max_depth)
