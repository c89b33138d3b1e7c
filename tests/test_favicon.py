"""/favicon.ico: browsers fetch it on every page that names no icon, the admin's included."""

from django.test import Client


def test_favicon_ico_leads_to_the_static_icon_served_by_whitenoise(settings):
    settings.WHITENOISE_USE_FINDERS = True
    client = Client()
    answer = client.get("/favicon.ico")
    assert answer.status_code == 302
    assert answer["Location"] == "/static/tracking/favicon.ico"
    icon = client.get(answer["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"
