"""Root routes: the back office, the two APIs and the pages."""

from django.contrib import admin
from django.urls import include, path

# The pages come first: an open tracking page polls its own URL, so it is the busiest route.
# No two groups share a path, so the order changes nothing else.
urlpatterns = [
    path("", include("tracking.urls")),
    path("", include("tracking.api.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "tracking.errors.not_found"
handler500 = "tracking.errors.server_error"
