from django.urls import path

from portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("connections/", views.connections, name="connections"),
    path("connections/new/<int:connector_id>/", views.connection_create, name="connection_create"),
    path("tools/", views.tools, name="tools"),
    path("tools/<str:name>/", views.tool_detail, name="tool"),
    path("confirmations/", views.confirmations, name="confirmations"),
    path("confirmations/state.json", views.confirmations_state, name="confirmations_state"),
    # The address the invocation service gives as the confirmation URL of a call.
    path("confirmations/<uuid:pk>/", views.invocation_detail, name="confirmation"),
    path("history/", views.history, name="history"),
    path("history/<uuid:pk>/", views.invocation_detail, name="invocation"),
    path("history/<uuid:pk>/confirm/", views.invocation_decide, {"decision": "confirm"}, name="invocation_confirm"),
    path("history/<uuid:pk>/reject/", views.invocation_decide, {"decision": "reject"}, name="invocation_reject"),
]
