"""The sizes the README gives for the typical tracking page and its live region.

The typical consignment is the benchmarks' own (bench/build_data.py: 2 packages, 2 legs, 30
events shown under each package), so the page measured here is the one the README's figures
describe; its bodies are measured as Django sends them before compression.
"""

import pytest
import time_machine

from bench.build_data import typical
from tests.factories import BrandFactory, CarrierFactory, at

pytestmark = pytest.mark.django_db

# README, Performance: "the typical page is under 62 KB, its live region under 54 KB".
PAGE_AT_MOST = 62_000
LIVE_REGION_AT_MOST = 54_000


@pytest.fixture
def typical_page_url():
    brand = BrandFactory(slug="bench", name="Bench Outfitters")
    carriers = [
        CarrierFactory(code="BENCH_LINEHAUL", name="Linehaul Co"),
        CarrierFactory(code="BENCH_LASTMILE", name="Last Mile Co"),
    ]
    # Dated from a fixed day: month and weekday names change the length by a few bytes.
    with time_machine.travel(at(0), tick=False):
        return f"/track/{typical(brand, carriers).reference}/"


def shown_events(response) -> int:
    return response.content.decode().count('<li class="event ')


def test_the_typical_page_and_its_live_region_are_the_sizes_the_readme_gives(
    client, typical_page_url
):
    with time_machine.travel(at(1), tick=False):
        page = client.get(typical_page_url)
        live_region = client.get(typical_page_url, headers={"HX-Request": "true"})

    for response in (page, live_region):
        assert response.status_code == 200
        assert "Content-Encoding" not in response  # the client asked for no compression
        assert shown_events(response) == 60  # 30 leg-wide events under each of 2 packages
    assert len(page.content) <= PAGE_AT_MOST
    assert len(live_region.content) <= LIVE_REGION_AT_MOST
