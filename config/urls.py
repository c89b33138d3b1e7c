"""Root routes: the back office, the two APIs and the pages."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("tracking.api.urls")),
    path("", include("tracking.urls")),
]

handler404 = "tracking.errors.not_found"
handler500 = "tracking.errors.server_error"
