"""Deployment hardening: Django's deploy checks, security headers on every page, no secret in
the logs."""

import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_deploy_checks_pass_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "HTTPS": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "track.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }
    for development_only in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"):  # the latter: browser tests
        env.pop(development_only, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split(maxsplit=1)[1] for part in header.split("; ")}


@pytest.mark.django_db
def test_every_html_page_has_a_strict_policy_and_refuses_framing(client, consignment, admin_client):
    pages = [
        client.get("/"),
        client.get(f"/track/{consignment.reference}/"),
        client.get("/track/", {"reference": "EC-ZZZ-ZZZ-ZZZ"}),
        client.post(f"/track/{consignment.reference}/verify/", {"postcode": "x"}),
        client.get("/no/such/page/"),
        client.get("/admin/login/"),
        admin_client.get("/admin/tracking/consignment/"),
        client.get("/api/docs/"),
    ]
    for response in pages:
        assert response["Content-Type"].startswith("text/html"), response
        directives = policy(response)
        assert directives["object-src"] == "'none'"
        assert directives["base-uri"] == "'none'"
        assert directives["script-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_the_public_pages_set_no_cookie_until_a_form_is_submitted(client, consignment):
    for path in ("/", f"/track/{consignment.reference}/", f"/embed/{consignment.reference}/"):
        response = client.get(path)
        assert not response.cookies, path
        assert "Set-Cookie" not in response


@pytest.mark.django_db
def test_no_api_secret_ever_reaches_the_logs(client, consignment, our_key, carrier_key, caplog):
    caplog.set_level(logging.DEBUG)
    client.get(f"/v1/consignments/{consignment.pk}", **our_key.bearer)
    client.get(f"/tracking/{consignment.reference}", **our_key.subscription)
    client.get("/v1/consignments", HTTP_AUTHORIZATION=f"Bearer {our_key.secret}x")
    client.post(
        "/tracking/carrierevents", "{}", content_type="application/json", **carrier_key.subscription
    )
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (our_key.secret, carrier_key.secret):
        assert secret not in logged
        assert secret[len("tpk_") :][:12] not in logged


def test_gunicorn_logs_no_query_strings_or_headers():
    config = (ROOT / "gunicorn.conf.py").read_text()
    log_format = re.search(r"access_log_format = (.+)", config).group(1)
    assert "%(U)s" in log_format and "%(r)s" not in log_format and "%({" not in log_format
