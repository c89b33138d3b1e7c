"""Routes of both wire APIs and of their OpenAPI schema and docs."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from tracking.api.consignly import views as consignly
from tracking.api.sorted import views as sorted_api

v1 = SimpleRouter(trailing_slash=False)
v1.register("consignments", consignly.ConsignmentViewSet, basename="consignly-consignment")
v1.register(
    r"consignments/(?P<consignmentId>[^/]+)/tracking",
    consignly.TrackingViewSet,
    basename="consignly-tracking",
)
v1.register(
    "webhook-subscriptions",
    consignly.WebhookSubscriptionViewSet,
    basename="consignly-webhook-subscription",
)

tracking = [
    # The fixed paths come before {consignmentReference}, which would otherwise swallow them.
    path(
        "carrierevents",
        sorted_api.CarrierEventsViewSet.as_view({"post": "create"}),
        name="sorted-carrier-events",
    ),
    path(
        "carrierTrackingEvents",
        sorted_api.CarrierTrackingEventsViewSet.as_view({"post": "create"}),
        name="sorted-carrier-tracking-events",
    ),
    path(
        "flattened/<str:consignmentReference>",
        sorted_api.ConsignmentTrackingViewSet.as_view({"get": "flattened"}),
        name="sorted-flattened",
    ),
    path(
        "<str:consignmentReference>",
        sorted_api.ConsignmentTrackingViewSet.as_view({"get": "retrieve"}),
        name="sorted-tracking",
    ),
]

urlpatterns = [
    path("v1/", include(v1.urls)),
    path("tracking/", include(tracking)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI's page carries one inline <style>; it shows no user data, so only this page
    # relaxes style-src (scripts stay 'self' only, served by the sidecar package).
    path(
        "api/docs/",
        csp_update({"style-src": [SELF, UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
]
