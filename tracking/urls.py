"""Routes of the customer pages (tracking.pages)."""

from django.urls import path, re_path

from tracking.pages import health, subscriptions, views

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("", views.home, name="home"),
    path("track/", views.lookup, name="lookup"),
    path("track/<str:reference>/", views.consignment, name="consignment"),
    path("track/<str:reference>/verify/", views.verify, name="verify"),
    path("track/<str:reference>/notify/", views.notify, name="notify"),
    path("embed/<str:reference>/", views.embed, name="embed"),
    path("embed/<str:reference>/verify/", views.embed_verify, name="embed-verify"),
    path("embed/<str:reference>/notify/", views.embed_notify, name="embed-notify"),
    # The links in the emails (tracking.delivery.email_content builds them from PUBLIC_URL).
    path("notify/confirm/<str:token>/", subscriptions.confirm, name="notify-confirm"),
    path("notify/unsubscribe/<str:token>/", subscriptions.unsubscribe, name="notify-unsubscribe"),
    re_path(
        r"^theme/(?P<version>v\d+)/(?P<colours>[0-9a-f]{6}-[0-9a-f]{6})\.css$",
        views.theme_css,
        name="theme",
    ),
]
