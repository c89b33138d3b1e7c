"""Figures the README states that no feature's own tests pinned: what references and keys are
drawn from, and what a page or an API read costs when it is asked again unchanged."""

import base64
from collections import Counter

import pytest

from tests.factories import add_events, make_leg, rate_limit_queries
from tests.helpers import warm
from tracking import services
from tracking.models import REFERENCE_ALPHABET, new_consignment_reference

pytestmark = pytest.mark.django_db


def test_references_carry_45_random_bits():
    """README, Security: "References carry 45 random bits": 9 symbols, each one of 32."""
    drawn = [new_consignment_reference().removeprefix("EC-").replace("-", "") for _ in range(3000)]
    assert {len(symbols) for symbols in drawn} == {9}
    assert len(set(REFERENCE_ALPHABET)) == 32  # 9 x log2(32) = 45 bits
    for position in range(9):
        seen = Counter(symbols[position] for symbols in drawn)
        # Every symbol turns up in every position (3000 draws: about 94 each; missing one by
        # chance has odds below 1e-30), and nothing else does.
        assert set(seen) == set(REFERENCE_ALPHABET)


def test_api_keys_are_random_256_bit_secrets_with_their_prefix(brand):
    """README, Security: "random 256-bit secrets with an identifiable tpk_ prefix"."""
    secrets = [services.issue_api_key(name=f"Shop {n}", brand=brand)[1] for n in range(20)]
    assert len(set(secrets)) == 20
    for secret in secrets:
        assert secret.startswith("tpk_")
        random_part = base64.urlsafe_b64decode(secret.removeprefix("tpk_") + "=")
        assert len(random_part) * 8 == 256


@pytest.fixture
def tracked(consignment, carrier):
    leg = make_leg(consignment, carrier=carrier, tracking_number="TRK00009823")
    add_events(leg, (1, "COLLECTED"), (2, "IN_TRANSIT"))
    return consignment, leg


def test_an_unchanged_page_asked_again_costs_its_head_alone(
    client, tracked, django_assert_num_queries
):
    """README, Performance: the anonymous page "is rendered once per ETag and kept in the
    worker's memory (the ETag changes with every stored event, so it is never stale)"."""
    consignment, leg = tracked
    url = f"/track/{consignment.reference}/"
    first = client.get(url)
    with django_assert_num_queries(1 + rate_limit_queries()):  # the head, the lookup count
        again = client.get(url)
    assert again.content == first.content
    add_events(leg, (3, "OUT_FOR_DELIVERY", "With the driver"))
    assert "With the driver" in client.get(url).content.decode()


@pytest.mark.parametrize("api", ["consignly", "sorted"])
def test_an_unchanged_api_read_asked_again_costs_the_key_its_counter_and_the_head(
    client, our_key, tracked, django_assert_num_queries, api
):
    """README, Performance: "The API reads make three statements (the key, its rate counter,
    the timeline's head)" in the benchmark, which asks for one consignment again and again."""
    consignment, leg = tracked
    path, key = {
        "consignly": (f"/v1/consignments/{consignment.pk}", our_key.bearer),
        "sorted": (f"/tracking/{consignment.reference}", our_key.subscription),
    }[api]
    first = client.get(path, **key)
    warm(our_key)
    with django_assert_num_queries(1 + rate_limit_queries() + 1):
        again = client.get(path, **key)
    assert again.status_code == 200
    assert again.content == first.content
    add_events(leg, (3, "OUT_FOR_DELIVERY", "With the driver"))
    after = client.get(path, **key).json()
    if api == "consignly":
        assert after["status"] == 4  # Out for delivery
    else:
        assert "With the driver" in [
            event["Description"]
            for package in after["TrackedPackages"]
            for leg_ in package["Legs"]
            for event in leg_["Events"]
        ]
