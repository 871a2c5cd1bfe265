from django.urls import path

from accesscontrol.api.views import ConnectionOperationsView, ToolsView

urlpatterns: list = [
    path("tools/", ToolsView.as_view(), name="tools"),
    path("connections/<int:pk>/operations/", ConnectionOperationsView.as_view(), name="connection-operations"),
]
