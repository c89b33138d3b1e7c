"""Site-wide 404 and 500 answers: each API in its own error envelope, pages as HTML."""

from django.views import defaults

from tracking.api import consignly
from tracking.api import sorted as sorted_api


def _api_for(path: str):
    if path.startswith("/v1/") or path == "/v1":
        return consignly
    if path.startswith("/tracking/") or path == "/tracking":
        return sorted_api
    return None


def not_found(request, exception=None):
    api = _api_for(request.path)
    if api is not None:
        return api.not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request):
    api = _api_for(request.path)
    if api is not None:
        return api.server_error(request)
    return defaults.server_error(request)
