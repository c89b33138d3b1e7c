"""Root routes: the back office, the two APIs and the pages."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Tracking portal back office"
admin.site.site_title = "Tracking portal"
admin.site.index_title = "Brands, consignments, legs, events and keys"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("tracking.api.urls")),
    path("", include("tracking.urls")),
]

handler404 = "tracking.errors.not_found"
handler500 = "tracking.errors.server_error"
