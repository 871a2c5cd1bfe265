from django.urls import path

from connections.api import views

urlpatterns = [
    path(
        "connectors/<int:connector_id>/connections/",
        views.ConnectorConnectionsView.as_view(),
        name="connector-connections",
    ),
    path("connections/<int:pk>/", views.ConnectionDetailView.as_view(), name="connection-detail"),
    path("connections/<int:pk>/test/", views.ConnectionTestView.as_view(), name="connection-test"),
    path("credentials/", views.CredentialListView.as_view(), name="credential-list"),
    path("credentials/<int:pk>/", views.CredentialDetailView.as_view(), name="credential-detail"),
]
