"""Whether any credential the platform supports can meet an operation's security requirements.

An operation lists alternatives; each alternative names schemes that must all be applied together.
An alternative can be met when every scheme it names was imported (the kinds the platform has
credentials for: API keys, HTTP Basic and bearer, OAuth2 authorization code and client
credentials), and no two of its schemes need the same place of the request: HTTP Basic, bearer
and OAuth2 all write the one ``Authorization`` header, so "Basic *and* bearer" can never be sent
(one would overwrite the other). An operation none of whose alternatives can be met is unusable:
:func:`unusable_reason` says why, in words, and the import marks the method so.
"""

from __future__ import annotations

AUTHORIZATION = ("header", "authorization")


def slot(entry: dict) -> tuple[str, str]:
    """The place of a request an imported scheme writes: ``(where, name)``."""
    kind = entry.get("kind")
    if kind == "api_key":
        config = entry.get("config") or {}
        where = config.get("in", "header")
        name = str(config.get("name", ""))
        return where, name.lower() if where == "header" else name
    return AUTHORIZATION


def _place(where_name: tuple[str, str]) -> str:
    where, name = where_name
    if where_name == AUTHORIZATION:
        return "the Authorization header"
    return f"the {where} {'parameter' if where == 'query' else where} {name}"


def alternative_problem(alternative: dict, schemes: dict[str, dict], unsupported: dict[str, str]) -> str:
    """Why this alternative can never be met, or ""."""
    problems = []
    taken: dict[tuple[str, str], str] = {}
    for name in alternative:
        entry = schemes.get(name)
        if entry is None:
            reason = unsupported.get(name) or "is not defined in the schema's security schemes"
            problems.append(f"{name} {reason}")
            continue
        where = slot(entry)
        if where in taken:
            problems.append(f"{taken[where]} and {name} both need {_place(where)}, which can hold only one of them")
        else:
            taken[where] = name
    return "; ".join(problems)


def unusable_reason(security, schemes: dict[str, dict], unsupported: dict[str, str]) -> str:
    """"" when some alternative of ``security`` can be met (or none is required), else why not.

    ``schemes``: the imported schemes by name (the first entry of each); ``unsupported``: the schemes
    the import skipped, by name, with why."""
    if not security:
        return ""
    reasons = []
    for alternative in security:
        if not alternative:
            return ""  # {} is the alternative "no authentication"
        problem = alternative_problem(alternative, schemes, unsupported)
        if not problem:
            return ""
        reasons.append(problem)
    return "No credential the platform supports can meet this method's security requirements: " + " / ".join(
        dict.fromkeys(reasons)
    )
