"""Routes of both wire APIs and of their OpenAPI schema and docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tracking.api import consignly
from tracking.api import sorted as sorted_api

urlpatterns = [
    path("v1/", include(consignly.urlpatterns)),
    path("tracking/", include(sorted_api.urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
