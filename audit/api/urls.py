from django.urls import path

from audit.api import views

urlpatterns = [
    path("audit/", views.AuditEntryListView.as_view(), name="audit-list"),
    path("audit/export/<slug:fmt>/", views.AuditExportView.as_view(), name="audit-export"),
]
