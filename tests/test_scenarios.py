"""Real-world carrier feeds, through the front door (issue 15, design section 1 and 7.1).

Each scenario is a shop booking a consignment and its carrier legs over /v1, then carriers
reporting events, either as Sorted carrier batches (POST /tracking/carrierevents, one request
per event in the order given) or as /v1 events (POST .../tracking/{id}/event). Each asserts the
statuses of every leg, package and the consignment, the warning stored, what /v1 reads back,
and what the customer's page shows: one data-warning element with the carrier's words, or none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from django.test import Client

from tests.factories import at
from tests.helpers import Credential
from tracking import services
from tracking import status as rules
from tracking.models import Carrier, Consignment, TrackingEvent
from tracking.status import Status, Warning

pytestmark = pytest.mark.django_db

S = Status


@dataclass(frozen=True)
class Step:
    """An event: on leg `leg`, `hours` after the scenario's morning (None: sent without a time,
    so it happens now), for one package (None: all of them)."""

    leg: int
    hours: float | None
    code: str
    description: str = ""
    package: int | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: list[Step]
    legs: list[str]  # carrier names, in booking order; a "name@status" is booked with it
    legs_expected: list[int]
    packages_expected: list[int]
    consignment_expected: int
    warning: Warning = Warning.NONE
    warning_words: str = ""  # the carrier's words the page's warning shows
    packages: int = 1
    repeat: list[int] = field(default_factory=list)  # steps posted twice
    sorted_api: bool = True  # Sorted events always carry a time


SCENARIOS = [
    Scenario(
        "in order",
        [Step(0, 1, "IN_TRANSIT"), Step(0, 2, "OUT_FOR_DELIVERY"), Step(0, 3, "DELIVERED")],
        ["Fast Freight"],
        [S.DELIVERED],
        [S.DELIVERED],
        S.DELIVERED,
    ),
    Scenario(
        "out of order",
        [Step(0, 3, "DELIVERED"), Step(0, 1, "IN_TRANSIT"), Step(0, 2, "OUT_FOR_DELIVERY")],
        ["Fast Freight"],
        [S.DELIVERED],
        [S.DELIVERED],
        S.DELIVERED,
    ),
    Scenario(
        "backfilled scans under a label printed later",
        [
            Step(0, 13.6, "LABEL_PRINTED", "Label created"),
            Step(0, 0, "COLLECTED_BY_CARRIER", "Collected"),
            Step(0, 4, "IN_TRANSIT", "At the hub"),
            Step(0, 10, "IN_TRANSIT", "Departed the hub"),
        ],
        ["Fast Freight"],
        [S.IN_TRANSIT],
        [S.IN_TRANSIT],
        S.IN_TRANSIT,
    ),
    Scenario(
        "duplicated",
        [Step(0, 1, "IN_TRANSIT", "Hub"), Step(0, 1, "IN_TRANSIT", "Hub"), Step(0, 2, "DELIVERED")],
        ["Fast Freight"],
        [S.DELIVERED],
        [S.DELIVERED],
        S.DELIVERED,
        repeat=[2],
    ),
    Scenario(
        "hand-over booked while out for delivery",
        [Step(0, 1, "IN_TRANSIT"), Step(0, 2, "OUT_FOR_DELIVERY"), Step(1, 3, "LABEL_PRINTED")],
        ["Linehaul", "Last Mile"],
        [S.OUT_FOR_DELIVERY, S.PRINTED],
        [S.OUT_FOR_DELIVERY],
        S.OUT_FOR_DELIVERY,
    ),
    Scenario(
        "hand-over then the last mile moves on",
        [
            Step(0, 1, "IN_TRANSIT"),
            Step(1, 2, "LABEL_PRINTED"),
            Step(1, 3, "IN_TRANSIT"),
            Step(1, 4, "OUT_FOR_DELIVERY"),
        ],
        ["Linehaul", "Last Mile@1"],
        [S.IN_TRANSIT, S.OUT_FOR_DELIVERY],
        [S.OUT_FOR_DELIVERY],
        S.OUT_FOR_DELIVERY,
    ),
    Scenario(
        "a late scan from the first leg after delivery",
        [Step(0, 1, "IN_TRANSIT"), Step(1, 3, "DELIVERED"), Step(0, 4, "IN_TRANSIT", "Late")],
        ["Linehaul", "Last Mile"],
        [S.IN_TRANSIT, S.DELIVERED],
        [S.DELIVERED],
        S.DELIVERED,
    ),
    Scenario(
        "a failed attempt",
        [
            Step(0, 1, "OUT_FOR_DELIVERY"),
            Step(0, 2, "DELIVERY_FAILED_CARD_LEFT", "No one home, card left"),
        ],
        ["Fast Freight"],
        [S.ATTEMPTED_DELIVERY],
        [S.ATTEMPTED_DELIVERY],
        S.ATTEMPTED_DELIVERY,
        Warning.PROBLEM,
        "No one home, card left",
    ),
    Scenario(
        "a failed attempt then delivered",
        [
            Step(0, 1, "OUT_FOR_DELIVERY"),
            Step(0, 2, "DELIVERY_FAILED", "No one home"),
            Step(0, 26, "OUT_FOR_DELIVERY"),
            Step(0, 27, "DELIVERED", "Left with neighbour"),
        ],
        ["Fast Freight"],
        [S.DELIVERED],
        [S.DELIVERED],
        S.DELIVERED,
    ),
    Scenario(
        "an exception then resolved",
        [
            Step(0, 1, "IN_TRANSIT"),
            Step(0, 2, "HELD_BY_CARRIER", "Held at depot"),
            Step(0, 5, "IN_TRANSIT", "Released, on its way"),
        ],
        ["Fast Freight"],
        [S.IN_TRANSIT],
        [S.IN_TRANSIT],
        S.IN_TRANSIT,
    ),
    Scenario(
        "an exception outstanding, and a stale scan that clears nothing",
        [
            Step(0, 2, "IN_TRANSIT"),
            Step(0, 3, "DAMAGED", "Parcel damaged in transit"),
            Step(0, 1, "COLLECTED_BY_CARRIER"),
        ],
        ["Fast Freight"],
        [S.EXCEPTION],
        [S.EXCEPTION],
        S.EXCEPTION,
        Warning.PROBLEM,
        "Parcel damaged in transit",
    ),
    Scenario(
        "a delay",
        [Step(0, 1, "IN_TRANSIT"), Step(0, 2, "DELAYED", "Delayed: vehicle breakdown")],
        ["Fast Freight"],
        [S.IN_TRANSIT],
        [S.IN_TRANSIT],
        S.IN_TRANSIT,
        Warning.DELAY,
        "Delayed: vehicle breakdown",
    ),
    Scenario(
        "a delay then progress",
        [
            Step(0, 1, "IN_TRANSIT"),
            Step(0, 2, "DELAYED", "Delayed: vehicle breakdown"),
            Step(0, 6, "OUT_FOR_DELIVERY"),
        ],
        ["Fast Freight"],
        [S.OUT_FOR_DELIVERY],
        [S.OUT_FOR_DELIVERY],
        S.OUT_FOR_DELIVERY,
    ),
    Scenario(
        "cancelled",
        [Step(0, 1, "LABEL_PRINTED"), Step(0, 2, "CANCELLED", "Order cancelled by the shop")],
        ["Fast Freight"],
        [S.CANCELLED],
        [S.CANCELLED],
        S.CANCELLED,
        Warning.PROBLEM,
        "Order cancelled by the shop",
    ),
    Scenario(
        "an unknown code",
        [Step(0, 1, "IN_TRANSIT"), Step(0, 2, "SCANNED_AT_GATEWAY", "Scanned at gateway")],
        ["Fast Freight"],
        [S.IN_TRANSIT],
        [S.IN_TRANSIT],
        S.IN_TRANSIT,
    ),
    Scenario(
        "two packages on different legs",
        [Step(0, 1, "DELIVERED", package=0), Step(1, 2, "IN_TRANSIT", package=1)],
        ["Fast Freight", "Slow Boat"],
        [S.DELIVERED, S.IN_TRANSIT],
        [S.DELIVERED, S.IN_TRANSIT],
        S.IN_TRANSIT,
        packages=2,
    ),
    Scenario(
        "two packages, one in trouble",
        [Step(0, 1, "DELIVERED", package=0), Step(0, 2, "LOST", "Parcel lost", package=1)],
        ["Fast Freight"],
        [S.EXCEPTION],
        [S.DELIVERED, S.EXCEPTION],
        S.EXCEPTION,
        Warning.PROBLEM,
        "Parcel lost",
        packages=2,
    ),
    Scenario(
        "the same instant, delivered sent first",
        [Step(0, 2, "DELIVERED"), Step(0, 2, "OUT_FOR_DELIVERY")],
        ["Fast Freight"],
        [S.DELIVERED],
        [S.DELIVERED],
        S.DELIVERED,
    ),
    Scenario(
        "an event without a time after a status set on booking (the seeds' example)",
        [Step(0, None, "OUT_FOR_DELIVERY")],
        ["Fast Freight@2"],
        [S.OUT_FOR_DELIVERY],
        [S.OUT_FOR_DELIVERY],
        S.OUT_FOR_DELIVERY,
        sorted_api=False,
    ),
]


def send(client, method, path, credential, body):
    return client.generic(
        method, path, json.dumps(body), content_type="application/json", **credential.bearer
    )


def book(client, shop, scenario) -> tuple[Consignment, list]:
    """The shop's side: the consignment and its legs, over /v1."""
    created = send(
        client,
        "POST",
        "/v1/consignments",
        shop,
        {
            "destination": {"postcode": "BS1 4DJ", "countryCode": "GB", "town": "Bristol"},
            "packages": [{"description": f"Parcel {n + 1}"} for n in range(scenario.packages)],
        },
    )
    assert created.status_code == 200, created.content
    consignment = Consignment.objects.get(pk=created.json()["consignmentId"])
    legs = []
    for n, booking in enumerate(scenario.legs):
        name, _, status = booking.partition("@")
        body = {"carrierName": name, "trackingNumber": f"TN{n}{consignment.reference[-3:]}"}
        if status:
            body["status"] = int(status)
        response = send(client, "POST", f"/v1/consignments/{consignment.pk}/tracking", shop, body)
        assert response.status_code == 200, response.content
        legs.append(consignment.legs.get(pk=response.json()["consignmentTrackingId"]))
    return consignment, legs


def report_sorted(client, consignment, legs, step: Step):
    leg = legs[step.leg]
    carrier = Carrier.objects.get(pk=leg.carrier_id)
    key = Credential(*services.issue_api_key(name=f"{carrier.name} {step}", carrier=carrier))
    packages = list(consignment.packages.order_by("sequence"))
    chosen = packages if step.package is None else [packages[step.package]]
    body = {
        "CarrierReference": carrier.code,
        "ConsignmentTrackingEvents": [
            {
                "ConsignmentTrackingReference": leg.tracking_number,
                "PackageTrackingEvents": [
                    {
                        "PackageReference": package.reference,
                        "TrackingEvents": [
                            {
                                "TimeStamp": at(step.hours).isoformat(),
                                "Code": step.code,
                                "Description": step.description,
                            }
                        ],
                    }
                    for package in chosen
                ],
            }
        ],
    }
    response = client.post(
        "/tracking/carrierevents", json.dumps(body), "application/json", **key.subscription
    )
    assert response.status_code == 200, response.content


def report_consignly(client, shop, consignment, legs, step: Step):
    body = {
        "status": int(rules.status_for_code(step.code)),
        "code": step.code,
        "details": step.description,
    }
    if step.hours is not None:
        body["eventDateTime"] = f"{at(step.hours):%Y-%m-%dT%H:%M:%SZ}"
    if step.package is not None:
        body["packageReference"] = consignment.packages.order_by("sequence")[step.package].reference
    path = f"/v1/consignments/{consignment.pk}/tracking/{legs[step.leg].pk}/event"
    response = send(client, "POST", path, shop, body)
    assert response.status_code in (200, 304), response.content


CASES = [
    pytest.param(scenario, api, id=f"{scenario.name} [{api}]")
    for scenario in SCENARIOS
    for api in ("sorted", "consignly")
    if api == "consignly" or scenario.sorted_api
]


def test_the_table_has_every_kind_of_feed_the_issue_names():
    assert len(SCENARIOS) >= 12


@pytest.mark.parametrize(("scenario", "api"), CASES)
def test_a_real_world_feed(scenario, api, brand):
    client = Client()
    shop = Credential(*services.issue_api_key(name="Shop", brand=brand))
    consignment, legs = book(client, shop, scenario)
    for n, step in enumerate(scenario.steps):
        for _ in range(2 if n in scenario.repeat else 1):
            if api == "sorted":
                report_sorted(client, consignment, legs, step)
            else:
                report_consignly(client, shop, consignment, legs, step)

    consignment.refresh_from_db()
    assert [leg.status for leg in consignment.legs.order_by("sequence")] == scenario.legs_expected
    packages = consignment.packages.order_by("sequence")
    assert [p.status for p in packages] == scenario.packages_expected
    assert (consignment.status, consignment.warning) == (
        scenario.consignment_expected,
        scenario.warning,
    )
    # Every event was stored once, whatever was repeated (Sorted's are per package).
    distinct = set(scenario.steps)
    per_step = scenario.packages if api == "sorted" else 1
    expected_events = sum(per_step if s.package is None else 1 for s in distinct)
    booked = sum("@" in booking for booking in scenario.legs)
    stored = TrackingEvent.objects.filter(tracking_record__consignment=consignment)
    assert stored.count() == expected_events + booked

    # What the shop reads back over /v1 agrees.
    for leg, expected in zip(
        consignment.legs.order_by("sequence"), scenario.legs_expected, strict=True
    ):
        read = client.get(f"/v1/consignments/{consignment.pk}/tracking/{leg.pk}", **shop.bearer)
        assert read.json()["status"] == expected

    # And the customer's page shows one warning with the carrier's words, or none.
    page = client.get(f"/track/{consignment.reference}/")
    assert page.status_code == 200
    html = page.content.decode()
    if scenario.warning == Warning.NONE:
        assert "data-warning" not in html
    else:
        assert html.count("data-warning") == 1
        start = html.index("data-warning")
        block = html[start : html.index("</", html.index(">", start) + 1) + 400]
        assert scenario.warning_words in block
