import json

from django import template

from connections import secrets

register = template.Library()


@register.simple_tag(takes_context=True)
def pending_confirmation_count(context) -> int:
    """How many invocations wait for the signed-in user's decision (cached on the request)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or not getattr(user, "is_authenticated", False):
        return 0
    if not hasattr(request, "_pending_confirmation_count"):
        from portal.invocation_pages import pending_count

        request._pending_confirmation_count = pending_count(user=user)
    return request._pending_confirmation_count


@register.filter
def pretty_json(value, forms=None) -> str:
    """JSON, indented, for a <pre> (escaped by the template as any text). Text holding JSON is
    decoded first, so what a secret's escapes decode to is redacted again, with ``forms`` (the
    connection's secret forms, when the page has them), before it is printed."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return secrets.redact(value, forms or ())
    return json.dumps(secrets.redact(value, forms or ()), indent=2, ensure_ascii=False, sort_keys=False, default=str)


@register.filter
def short_id(value) -> str:
    """The first 8 characters of an id, enough to tell calls apart on a page."""
    return str(value)[:8]
