"""Pages for process designers and end users. Thin: they call the apps' services and selectors."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from integrations_platform.errors import ApplicationError
from portal import selectors
from portal.forms import ConnectionCreateForm, ToolSearchForm

# Largest "try it" submission the page accepts (the invocation service bounds arguments too).
MAX_TRY_BODY = 1024 * 1024


@login_required
def home(request):
    if selectors.is_designer(request.user):
        return redirect("portal:connections")
    return redirect("portal:tools")


# --- My connections ---------------------------------------------------------------------------


@login_required
def connections(request):
    if not selectors.is_designer(request.user):
        raise PermissionDenied("Only process designers design with connections.")
    rows = selectors.connection_list_for_designer(user=request.user)
    connectors = selectors.connector_list_for_new_connection(user=request.user)
    return render(
        request,
        "portal/connections.html",
        {"nav": "connections", "rows": rows, "connectors": connectors},
    )


@login_required
@require_http_methods(["GET", "POST"])
def connection_create(request, connector_id: int):
    if not selectors.is_designer(request.user):
        raise PermissionDenied("Only process designers create connections.")
    connector = selectors.connector_get_for_new_connection(user=request.user, pk=connector_id)
    if connector is None:
        raise Http404("No such connector.")
    form_kwargs = {
        "connector": connector,
        "schemes": list(connector.auth_schemes.all()),
        "credentials": list(selectors.credential_list_for(user=request.user)),
        "groups": list(selectors.organisation_groups_for(user=request.user)),
        "people": list(selectors.organisation_people_for(user=request.user)),
    }
    if request.method == "POST":
        form = ConnectionCreateForm(request.POST, **form_kwargs)
        if form.is_valid():
            from connections.services import connection_create as create

            try:
                connection = create(
                    connector=connector,
                    organisation=request.user.organisation,
                    created_by=request.user,
                    **form.service_arguments(),
                )
            except ApplicationError as error:
                form.add_service_errors(error)
            else:
                messages.success(
                    request,
                    f"The connection “{connection}” is ready. Its read methods (GET, HEAD) are open to everyone "
                    "you chose; the other methods stay off until an administrator opens them in the method "
                    "rights grid.",
                )
                return redirect(f"{reverse('portal:connections')}#connection-{connection.pk}")
    else:
        form = ConnectionCreateForm(**form_kwargs)
    return render(
        request,
        "portal/connection_create.html",
        {"nav": "connections", "form": form, "connector": connector},
        status=400 if request.method == "POST" else 200,
    )


# --- Tools ------------------------------------------------------------------------------------


@login_required
def tools(request):
    from portal.tool_pages import MAX_TOOLS_ON_PAGE, tool_groups, unavailable_connections

    form = ToolSearchForm(request.GET or None, connections=selectors.tool_connections_for(user=request.user))
    filters = {}
    if form.is_bound and form.is_valid():
        filters = {
            "query": form.cleaned_data.get("q") or None,
            "connection_id": form.cleaned_data.get("connection"),
            "tag": form.cleaned_data.get("tag") or None,
        }
    groups, count = tool_groups(user=request.user, **filters)
    return render(
        request,
        "portal/tools.html",
        {"nav": "tools", "form": form, "groups": groups, "count": count, "filtered": any(filters.values()),
         "limit": MAX_TOOLS_ON_PAGE, "unavailable": unavailable_connections(user=request.user)},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def tool_detail(request, name: str):
    from portal.schema_form import any_required, attach_errors, build_fields, field_name_for_path, parse_arguments
    from portal.tool_pages import invoke, tool_get_or_reason

    tool, reason = tool_get_or_reason(user=request.user, name=name)
    if tool is None and reason:
        # The tool is theirs, but a platform administrator switched its connection off.
        return render(
            request, "portal/tool_unavailable.html", {"nav": "tools", "name": name, "reason": reason}, status=403
        )
    if tool is None:
        raise Http404("No such tool.")
    schema = tool.input_schema
    errors_left: list[str] = []
    status = 200
    if request.method == "POST":
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_TRY_BODY:
            fields = build_fields(schema)
            errors_left = [f"The arguments are too large: at most {MAX_TRY_BODY // 1024} KB."]
            status = 400
        else:
            arguments, errors, fields = parse_arguments(schema, request.POST)
            if errors:
                status = 400
            else:
                try:
                    invocation = invoke(user=request.user, tool=tool, arguments=arguments)
                except ApplicationError as error:
                    status = 400 if error.status_code < 500 else error.status_code
                    by_field = {}
                    for path, message in (error.field_errors or {}).items():
                        text = " ".join(map(str, message)) if isinstance(message, list | tuple) else str(message)
                        if str(path) in {"arguments", "", "non_field_errors"}:
                            errors_left.append(text)
                        else:
                            key = field_name_for_path(str(path).removeprefix("arguments").lstrip("."))
                            by_field[key] = (by_field.get(key, "") + " " + text).strip()
                    errors_left += attach_errors(fields, by_field)
                    if not error.field_errors:
                        errors_left.append(error.message)
                else:
                    if not invocation.requires_confirmation:
                        # Show the answer on the next page when it comes quickly; else it refreshes.
                        from portal.invocation_pages import TRY_WAIT_SECONDS, invocation_wait

                        invocation_wait(user=request.user, pk=invocation.pk, seconds=TRY_WAIT_SECONDS)
                    return redirect("portal:invocation", pk=invocation.pk)
    else:
        fields = build_fields(schema)
    return render(
        request,
        "portal/tool_detail.html",
        {"nav": "tools", "tool": tool, "fields": fields, "errors": errors_left, "any_required": any_required(fields)},
        status=status,
    )


# --- Confirmations ----------------------------------------------------------------------------


@login_required
def confirmations(request):
    from portal import invocation_pages

    pending = invocation_pages.confirmations_for_display(user=request.user)
    return render(
        request,
        "portal/confirmations.html",
        {"nav": "confirmations", "pending": pending, "latest": ",".join(sorted(str(i.pk) for i in pending))},
    )


@login_required
def confirmations_state(request):
    """A small JSON answer for the page's polling: how many wait, and the newest id."""
    from portal import invocation_pages

    pending = invocation_pages.confirmation_list(user=request.user)
    ids = sorted(str(pk) for pk in pending.values_list("pk", flat=True))
    response = JsonResponse({"count": len(ids), "latest": ",".join(ids)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def invocation_decide(request, pk, decision: str):
    from portal import invocation_pages

    invocation = invocation_pages.invocation_get(user=request.user, pk=pk)
    if invocation is None:
        raise Http404("No such invocation.")
    try:
        if decision == "confirm":
            invocation_pages.confirm(user=request.user, invocation=invocation)
            messages.success(request, f"Approved: call #{invocation.pk} is on its way.")
        else:
            invocation_pages.reject(user=request.user, invocation=invocation)
            messages.info(request, f"Rejected: call #{invocation.pk} will not be made.")
    except ApplicationError as error:
        messages.error(request, error.message)
    target = request.POST.get("next") or ""
    if target == "detail":
        return redirect("portal:invocation", pk=invocation.pk)
    return redirect("portal:confirmations")


# --- History ----------------------------------------------------------------------------------


@login_required
def history(request):
    from portal import invocation_pages
    from portal.forms import HistoryFilterForm

    form = HistoryFilterForm(request.GET or None, connections=selectors.tool_connections_for(user=request.user))
    filters = {}
    if form.is_bound and form.is_valid():
        filters = {
            "status": form.cleaned_data.get("status") or None,
            "connection_id": form.cleaned_data.get("connection"),
            "since": form.cleaned_data.get("since"),
            "until": form.cleaned_data.get("until"),
        }
    queryset = invocation_pages.history_list(user=request.user, **filters)
    paginator = Paginator(queryset, invocation_pages.HISTORY_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    for invocation in page.object_list:
        invocation.duration_ms = invocation_pages.duration_ms(invocation)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "portal/history.html",
        {"nav": "history", "form": form, "page": page, "query": query.urlencode(), "filtered": any(filters.values())},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


@login_required
def invocation_detail(request, pk):
    from portal import invocation_pages

    invocation = invocation_pages.invocation_get(user=request.user, pk=pk)
    if invocation is None:
        raise Http404("No such invocation.")
    invocation.duration_ms = invocation_pages.duration_ms(invocation)
    return render(
        request,
        "portal/invocation_detail.html",
        {
            "nav": "history",
            "invocation": invocation,
            "final": invocation.status in invocation_pages.FINAL_STATUSES,
        },
    )
