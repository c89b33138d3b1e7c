"""Shared personas: our brand and its client key, another brand's key, a carrier's key."""

from dataclasses import dataclass

import pytest

from tests.factories import BrandFactory, CarrierFactory, make_consignment, make_leg
from tracking import services
from tracking.models import ApiKey, Brand, Carrier


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
    # tests/test_changes.py turns the memo on with committed writes.
    settings.TIMELINE_MEMO = False


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import caches

    for alias in ("default", "bodies"):
        caches[alias].clear()
    yield
    for alias in ("default", "bodies"):
        caches[alias].clear()


@dataclass
class Credential:
    key: ApiKey
    secret: str

    @property
    def bearer(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.secret}"}

    @property
    def subscription(self) -> dict:
        return {"HTTP_OCP_APIM_SUBSCRIPTION_KEY": self.secret}


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
