from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

import integrations_platform.admin  # noqa: F401  (admin site titles)
from integrations_platform.api_views import MeView

api_v1 = [
    path("me/", MeView.as_view(), name="me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("", include("connectors.api.urls")),
    path("", include("connections.api.urls")),
    path("", include("accesscontrol.api.urls")),
    path("", include("invocations.api.urls")),
    path("", include("audit.api.urls")),
]

# A body too large is answered 413, not as a bare 400 (integrations_platform/middleware.py).
handler400 = "integrations_platform.middleware.bad_request"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include((api_v1, "api"))),
    path("", include("portal.urls")),
]
