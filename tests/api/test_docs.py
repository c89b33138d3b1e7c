"""The OpenAPI schema and the interactive docs, served from this server."""

import re

import pytest


def directive(response, name: str) -> str:
    return re.search(rf"{name} ([^;]+)", response["Content-Security-Policy"]).group(1)


@pytest.mark.django_db
def test_the_docs_page_is_served_locally_and_relaxes_only_its_styles(client):
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()
    assert directive(docs, "style-src") == "'self' 'unsafe-inline'"
    assert directive(docs, "script-src") == "'self'"
    assert directive(client.get("/"), "style-src") == "'self'"


@pytest.mark.django_db
def test_the_schema_describes_both_apis(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = set(schema["paths"])
    assert "/tracking/carrierevents" in paths
    assert "/v1/consignments/{consignmentId}/tracking/{consignmentTrackingId}/event" in paths
    assert {"bearerKey", "subscriptionKey"} <= set(schema["components"]["securitySchemes"])
