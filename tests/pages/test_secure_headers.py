"""Headers every response carries, whoever answers it: the page views, their 304s, the theme
stylesheet, the APIs, the back office and the error pages."""

import pytest

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def policy(response) -> dict[str, str]:
    """Permissions-Policy as {feature: allowlist}."""
    header = response["Permissions-Policy"]
    return dict(item.strip().split("=", 1) for item in header.split(","))


class TestPermissionsPolicy:
    @pytest.mark.parametrize(
        "path",
        [
            "/",
            "/track/EC-PAG-000-001/",
            "/embed/EC-PAG-000-001/",
            "/theme/v1/1f4e5f-b5542d.css",
            "/healthz",
            "/v1/consignments/1",
            "/admin/login/",
            "/no/such/page/",
        ],
    )
    def test_every_response_denies_the_powerful_features(self, client, shipment, path):
        features = policy(client.get(path))
        for feature in (
            "camera",
            "microphone",
            "geolocation",
            "payment",
            "usb",
            "interest-cohort",
            "browsing-topics",
        ):
            assert features[feature] == "()", feature

    def test_a_304_carries_it_too(self, client, page_url):
        etag = client.get(page_url, headers=HTMX)["ETag"]
        unchanged = client.get(page_url, headers={**HTMX, "If-None-Match": etag})
        assert unchanged.status_code == 304
        assert policy(unchanged)["camera"] == "()"

    def test_nothing_is_granted_beyond_our_own_origin(self, client, page_url):
        allowlists = set(policy(client.get(page_url)).values())
        assert allowlists <= {"()", "(self)"}
