"""Root routes: the back office, the two APIs and the pages, and which face answers an error.

Django asks the root URLconf for handler404 and handler500; each path's errors are answered by
the face it belongs to, in that face's own envelope (an API's JSON, the pages' HTML).
"""

from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from tracking.api import consignly
from tracking.api import sorted as sorted_api
from tracking.pages import errors as pages

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
if settings.ANYMAIL.get("WEBHOOK_SECRET"):
    # The email provider's tracking webhooks (bounces, complaints), behind anymail's own
    # basic-auth secret; tracking.delivery.bounces suppresses those addresses.
    urlpatterns.append(path("anymail/", include("anymail.urls")))


def _api_for(path: str):
    if path.startswith("/v1/") or path == "/v1":
        return consignly
    if path.startswith("/tracking/") or path == "/tracking":
        return sorted_api
    return None


def handler404(request, exception=None):
    api = _api_for(request.path)
    return pages.not_found(request, exception) if api is None else api.not_found(request)


def handler500(request):
    api = _api_for(request.path)
    if api is None:
        return pages.server_error(request)
    if pages.database_unreachable():
        if api is consignly:
            answer = consignly.error_response(503, "Service Unavailable", [pages.UNAVAILABLE])
        else:
            answer = sorted_api.error_response(503, "ServiceUnavailable", pages.UNAVAILABLE)
        return pages.unavailable(answer)
    return api.server_error(request)
