from rest_framework.routers import SimpleRouter

from connectors.api.views import ConnectorViewSet

router = SimpleRouter()
router.register("connectors", ConnectorViewSet, basename="connector")

urlpatterns: list = router.urls
