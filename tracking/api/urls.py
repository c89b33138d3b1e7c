"""Routes of both wire APIs and of their OpenAPI schema and docs."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tracking.api import consignly
from tracking.api import sorted as sorted_api

urlpatterns = [
    path("v1/", include(consignly.urlpatterns)),
    path("tracking/", include(sorted_api.urlpatterns)),
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
