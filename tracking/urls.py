"""Routes of the customer pages (tracking.pages)."""

from django.urls import path, re_path

from tracking.pages import health, views

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("", views.home, name="home"),
    path("track/", views.lookup, name="lookup"),
    path("track/<str:reference>/", views.consignment, name="consignment"),
    path("track/<str:reference>/verify/", views.verify, name="verify"),
    path("embed/<str:reference>/", views.embed, name="embed"),
    path("embed/<str:reference>/verify/", views.embed_verify, name="embed-verify"),
    re_path(
        r"^theme/(?P<version>v\d+)/(?P<colours>[0-9a-f]{6}-[0-9a-f]{6})\.css$",
        views.theme_css,
        name="theme",
    ),
]
