"""Root routes: the back office, the two APIs and the pages."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

# The pages come first: an open tracking page polls its own URL, so it is the busiest route.
# No two groups share a path, so the order changes nothing else.
urlpatterns = [
    path("", include("tracking.urls")),
    path("", include("tracking.api.urls")),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's). The static URL
    # is looked up per request, so it follows the manifest of the latest collectstatic.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("tracking/favicon.ico"))),
]

handler404 = "tracking.pages.errors.not_found"
handler500 = "tracking.pages.errors.server_error"
