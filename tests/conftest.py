"""Shared personas: our brand and its client key, another brand's key, a carrier's key.

Also the rule that keeps a skip from passing for a green run: a test marked `postgres` or
`redis` is skipped where that service is not configured, and under CI=true a skipped browser
or `vnu` (HTML validation) test fails the run, as does a skipped PostgreSQL or Redis test when
DATABASE_URL or REDIS_URL names one.
"""

import os

import pytest
from django.conf import settings as django_settings

from tests import browser
from tests.factories import ON_POSTGRES, BrandFactory, CarrierFactory, make_consignment, make_leg
from tests.helpers import IN_CI, Credential
from tracking import services
from tracking.models import Brand, Carrier

# Read from the environment, not from what the tests detected: a mistake in the detection
# must not excuse the skips it causes. (Settings accept only SQLite or PostgreSQL URLs.)
_DATABASE_URL = os.environ.get("DATABASE_URL", "").strip().lower()
POSTGRES_NAMED = bool(_DATABASE_URL) and not _DATABASE_URL.startswith("sqlite")
REDIS_NAMED = bool(os.environ.get("REDIS_URL", "").strip())


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "vnu: needs java and the Nu Html Checker (vnu.jar); a skip fails under CI=true"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and not ON_POSTGRES:
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://...")
    if item.get_closest_marker("redis") and not django_settings.REDIS_URL:
        pytest.skip("needs Redis: run with REDIS_URL=redis://...")


def _service_ci_requires(item) -> str | None:
    """What CI must provide for this test, when a skip of it would hide a missing service."""
    if item.get_closest_marker("browser"):
        return "Chromium"
    if item.get_closest_marker("vnu"):
        return "java and the Nu Html Checker (`make test` installs vnu.jar)"
    if item.get_closest_marker("postgres") and POSTGRES_NAMED:
        return "PostgreSQL (DATABASE_URL names it)"
    if item.get_closest_marker("redis") and REDIS_NAMED:
        return "Redis (REDIS_URL names it)"
    return None


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        service = _service_ci_requires(item)
        if service:
            report.outcome = "failed"
            reason = _skip_reason(report)
            report.longrepr = f"CI=true needs {service}, yet the test skipped: {reason}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    """A browser module skipped whole when it is imported (no Chromium) never has items to
    report, so its collection fails instead under CI=true."""
    report = yield
    if IN_CI and report.skipped and isinstance(collector, pytest.Module):
        reason = _skip_reason(report)
        if browser.MISSING in reason or "pytest.mark.browser" in collector.path.read_text():
            report.outcome = "failed"
            report.longrepr = f"CI=true needs Chromium, yet {collector.path.name} skipped: {reason}"
    return report


@pytest.fixture(autouse=True)
def test_settings(settings):
    # A deliberately slow password hash costs 0.4 s per staff user; tests need no such cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The manifest storage needs `collectstatic`; tests of it run collectstatic themselves.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # A test's writes are rolled back, never committed, so PostgreSQL never announces them;
    # tests/db/test_changes.py turns the memo on with committed writes.
    settings.TIMELINE_MEMO = False


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import caches

    from tracking import ratelimit

    ratelimit._leases.clear()  # a reservation outlives the rolled-back counter it was taken from

    for alias in ("default", "bodies"):
        caches[alias].clear()
    yield
    for alias in ("default", "bodies"):
        caches[alias].clear()


@pytest.fixture
def brand(db) -> Brand:
    return BrandFactory(slug="harbour", name="Harbour & Pine")


@pytest.fixture
def other_brand(db) -> Brand:
    return BrandFactory(slug="elsewhere", name="Elsewhere Ltd")


@pytest.fixture
def carrier(db) -> Carrier:
    return CarrierFactory(code="CARRIER_X", name="Carrier X")


@pytest.fixture
def other_carrier(db) -> Carrier:
    return CarrierFactory(code="CARRIER_Y", name="Carrier Y")


@pytest.fixture
def our_key(brand) -> Credential:
    return Credential(*services.issue_api_key(name="Harbour shop", brand=brand))


@pytest.fixture
def their_key(other_brand) -> Credential:
    return Credential(*services.issue_api_key(name="Elsewhere shop", brand=other_brand))


@pytest.fixture
def carrier_key(carrier) -> Credential:
    return Credential(*services.issue_api_key(name="Carrier X feed", carrier=carrier))


@pytest.fixture
def other_carrier_key(other_carrier) -> Credential:
    return Credential(*services.issue_api_key(name="Carrier Y feed", carrier=other_carrier))


@pytest.fixture
def consignment(brand):
    return make_consignment(brand, packages=2, reference="EC-AAA-BBB-CCC")


@pytest.fixture
def leg(consignment, carrier):
    return make_leg(consignment, carrier=carrier, tracking_number="TRK00009823")
