"""Site-wide error answers: each API in its own envelope, pages as HTML.

A database that cannot be reached is not a bug in the request: it is answered 503 with
Retry-After, so clients back off and load balancers can tell it from a crash. Persistent
connections are health-checked at the start of each request, so service resumes by itself as
soon as the database is back.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template import loader
from django.views import defaults

from tracking.api import consignly
from tracking.api import sorted as sorted_api

RETRY_AFTER_SECONDS = 5


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
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return service_unavailable(request)
    api = _api_for(request.path)
    if api is not None:
        return api.server_error(request)
    return defaults.server_error(request)


def service_unavailable(request):
    api = _api_for(request.path)
    message = "The service is briefly unavailable; please retry in a few seconds."
    if api is consignly:
        response = consignly.error_response(503, "Service Unavailable", [message])
    elif api is sorted_api:
        response = sorted_api.error_response(503, "ServiceUnavailable", message)
    else:
        try:
            body = loader.get_template("503.html").render({"request": request})
        except Exception:  # a missing or broken template must not turn a 503 into a 500
            body = f"<!doctype html><title>Unavailable</title><h1>{message}</h1>"
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
