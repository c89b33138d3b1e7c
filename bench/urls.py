"""The portal's routes plus /bench/bare/, a bare Django template view."""

from django.shortcuts import render
from django.urls import include, path

from config.urls import handler404, handler500  # noqa: F401 (the portal's own error answers)


def bare(request):
    return render(request, "bench/bare.html", {"greeting": "Hello, world", "items": range(5)})


urlpatterns = [
    path("bench/bare/", bare),
    path("", include("config.urls")),
]
