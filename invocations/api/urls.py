from rest_framework.routers import SimpleRouter

from invocations.api.views import InvocationViewSet

router = SimpleRouter()
router.register("invocations", InvocationViewSet, basename="invocation")

urlpatterns = router.urls
