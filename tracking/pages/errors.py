"""The pages' own error answers, in HTML: not found, a server error, and the database out of
reach. The root URLconf (config/urls.py) sends each path to its face's answers; these are the
ones for everything that is not an API.

A database that cannot be reached is not a bug in the request: it is answered 503 with
Retry-After, so clients back off and load balancers can tell it from a crash. Service resumes
by itself once the database is back, and nothing checks a connection before each request
(config/settings.py). On PostgreSQL a worker keeps its connection for up to ten minutes with
Django's health check off: a connection that broke fails the request that meets it (a 503),
is closed when that request ends, and the next request connects afresh. On SQLite the check
is on but is no round trip (Django's SQLite backend always reports its connection usable):
there is no server to lose, and a locked or unreadable file is simply tried again by the
next request.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template import loader
from django.views import defaults

RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "The service is briefly unavailable; please retry in a few seconds."


def database_unreachable() -> bool:
    """Whether the exception being handled means the database is out of reach."""
    return isinstance(sys.exc_info()[1], OperationalError | InterfaceError)


def not_found(request, exception=None):
    return defaults.page_not_found(request, exception)


def server_error(request):
    if database_unreachable():
        return service_unavailable(request)
    return defaults.server_error(request)


def service_unavailable(request):
    try:
        body = loader.get_template("503.html").render({"request": request})
    except Exception:  # a missing or broken template must not turn a 503 into a 500
        body = f"<!doctype html><title>Unavailable</title><h1>{UNAVAILABLE}</h1>"
    return unavailable(HttpResponse(body, status=503))


def unavailable(response: HttpResponse) -> HttpResponse:
    """A 503 of any face, told when to retry and never kept."""
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
