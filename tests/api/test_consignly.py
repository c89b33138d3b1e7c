"""The Consignly-compatible API under /v1, driven through HTTP and checked in the database."""

import datetime as dt
import json
import re
import uuid
from types import SimpleNamespace

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import example, given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.factories import (
    CarrierFactory,
    add_events,
    at,
    make_consignment,
    make_leg,
    rate_limit_queries,
)
from tests.helpers import assert_v1_error, warm
from tracking import services
from tracking import status as rules
from tracking.api.consignly import fields as consignly
from tracking.models import (
    CONSIGNMENT_REFERENCE,
    ApiKey,
    Consignment,
    EventSource,
    Package,
    TrackingEvent,
    TrackingRecord,
    validate_http_url,
)

pytestmark = pytest.mark.django_db

UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LIST_KEYS = {
    "id",
    "carrierName",
    "status",
    "trackingNumber",
    "trackingUrl",
    "integrationName",
    "createdUtc",
    "modifiedUtc",
    "lastUpdatedDate",
}
DETAIL_KEYS = LIST_KEYS | {"sequence", "trackingEvents"}
EVENT_KEYS = {"status", "details", "eventDateTime", "createdUtc"}
SPEC_RECORD = {
    "carrierName": "Fast Freight Co",
    "status": 1,
    "trackingNumber": "FF123456789",
    "trackingUrl": "https://fastfreight.com/track/FF123456789",
}
NEW_CONSIGNMENT = {
    "customerReference": "ORDER-1042",
    "destination": {"postcode": "SW1A 1AA", "countryCode": "gb", "town": "London"},
    "recipientName": "Alex Morgan",
    "recipientEmail": "alex@example.com",
    "expectedDeliveryDate": "2026-03-12",
    "packages": [{"description": "Boots"}, {"reference": "ep-000-034-4dg"}],
}


@pytest.fixture
def api():
    return APIClient()


def send(
    api, method, path, credential=None, body=None, *, raw=None, content_type="application/json"
):
    """One request as a client sends it: JSON unless told otherwise."""
    headers = credential.bearer if credential else {}
    data = raw if raw is not None else ("" if body is None else json.dumps(body))
    return api.generic(method, path, data=data, content_type=content_type, **headers)


def records(consignment_id) -> str:
    return f"/v1/consignments/{consignment_id}/tracking"


def record(consignment_id, leg_id) -> str:
    return f"{records(consignment_id)}/{leg_id}"


def events(consignment_id, leg_id) -> str:
    return f"{record(consignment_id, leg_id)}/event"


def assert_empty(response, status: int) -> None:
    assert response.status_code == status, response.content
    assert response.content == b""


def snapshot() -> tuple:
    """Everything a rejected request must leave as it was."""
    return (
        Consignment.objects.count(),
        Package.objects.count(),
        list(TrackingRecord.objects.order_by("id").values()),
        TrackingEvent.objects.count(),
        list(Consignment.objects.order_by("id").values_list("revision", "modified_utc")),
    )


# -- The spec's examples, replayed ----------------------------------------------------------


class TestSpecExamples:
    def test_it_creates_a_tracking_record_from_the_spec_example(self, api, our_key, consignment):
        response = send(api, "POST", records(consignment.pk), our_key, SPEC_RECORD)

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"consignmentTrackingId"}
        leg = TrackingRecord.objects.get(pk=uuid.UUID(body["consignmentTrackingId"]))
        assert leg.consignment == consignment
        assert (leg.carrier_name, leg.tracking_number, leg.tracking_url) == (
            "Fast Freight Co",
            "FF123456789",
            "https://fastfreight.com/track/FF123456789",
        )
        assert leg.carrier.name == "Fast Freight Co"
        assert leg.integration_name == "Harbour shop"
        assert leg.status == 1
        event = leg.events.get()
        assert (event.status, event.code, event.source) == (1, "LABEL_PRINTED", "consignly-api")

    def test_a_record_created_without_a_status_has_no_event(self, api, our_key, consignment):
        body = {"carrierName": "Fast Freight Co"}
        response = send(api, "POST", records(consignment.pk), our_key, body)

        leg = TrackingRecord.objects.get(pk=response.json()["consignmentTrackingId"])
        assert leg.status == 0
        assert not leg.events.exists()

    def test_it_lists_tracking_records_in_the_spec_shape(self, api, our_key, consignment):
        send(api, "POST", records(consignment.pk), our_key, SPEC_RECORD)

        response = api.get(records(consignment.pk), **our_key.bearer)

        assert response.status_code == 200
        body = response.json()
        assert list(body) == ["index", "total", "consignmentTracking"]
        assert (body["index"], body["total"]) == (1, 1)
        [item] = body["consignmentTracking"]
        assert set(item) == LIST_KEYS
        assert item["carrierName"] == "Fast Freight Co"
        assert item["status"] == 1
        assert item["trackingNumber"] == "FF123456789"
        assert item["trackingUrl"] == "https://fastfreight.com/track/FF123456789"
        assert item["integrationName"] == "Harbour shop"
        assert UTC_TIME.match(item["createdUtc"]) and UTC_TIME.match(item["modifiedUtc"])
        assert DATE.match(item["lastUpdatedDate"])
        assert str(uuid.UUID(item["id"])) == item["id"]

    def test_empty_optional_strings_are_null(self, api, our_key, consignment):
        services.add_leg(consignment=consignment, source=EventSource.ADMIN)

        [item] = api.get(records(consignment.pk), **our_key.bearer).json()["consignmentTracking"]

        assert item["carrierName"] is None
        assert item["trackingNumber"] is None
        assert item["trackingUrl"] is None
        assert item["integrationName"] is None

    def test_it_updates_a_record_with_the_spec_put_example(self, api, our_key, consignment):
        leg_id = send(api, "POST", records(consignment.pk), our_key, SPEC_RECORD).json()[
            "consignmentTrackingId"
        ]

        response = send(api, "PUT", record(consignment.pk, leg_id), our_key, {"status": 2})

        assert_empty(response, 200)
        leg = TrackingRecord.objects.get(pk=leg_id)
        assert leg.status == 2
        assert leg.tracking_number == "FF123456789"
        assert list(leg.events.values_list("status", flat=True)) == [1, 2]

    def test_it_posts_the_spec_event_example(self, api, our_key, consignment, leg):
        body = {"carrierName": "Last Mile Delivery", "status": 4, "details": "On its way!"}

        response = send(api, "POST", events(consignment.pk, leg.pk), our_key, body)

        assert_empty(response, 200)
        leg.refresh_from_db()
        assert leg.status == 4
        assert leg.carrier_name == "Last Mile Delivery"
        assert leg.carrier.name == "Last Mile Delivery"
        event = leg.events.get()
        assert (event.status, event.code, event.description) == (
            4,
            "OUT_FOR_DELIVERY",
            body["details"],
        )

    def test_it_returns_a_record_with_its_events_oldest_first(self, api, our_key, consignment):
        with time_machine.travel(at(0), tick=False):
            leg_id = send(
                api,
                "POST",
                records(consignment.pk),
                our_key,
                {**SPEC_RECORD, "carrierName": "Last Mile Delivery", "status": 0},
            ).json()["consignmentTrackingId"]
        with time_machine.travel(at(30), tick=False):
            for status, details, hours in [(2, "With courier", 24), (1, "Labels printed", 0)]:
                body = {
                    "status": status,
                    "details": details,
                    "eventDateTime": f"{at(hours):%FT%TZ}",
                }
                send(api, "POST", events(consignment.pk, leg_id), our_key, body)

        response = api.get(record(consignment.pk, leg_id), **our_key.bearer)

        assert response.status_code == 200
        body = response.json()
        assert set(body) == DETAIL_KEYS
        assert body["id"] == leg_id
        assert body["status"] == 2
        assert body["integrationName"] == "Harbour shop"
        assert body["createdUtc"] == "2026-03-09T08:00:00Z"
        assert body["modifiedUtc"] == "2026-03-10T14:00:00Z"
        assert body["lastUpdatedDate"] == "2026-03-10"
        assert body["sequence"] == 1
        assert body["trackingEvents"] == [
            {
                "status": 1,
                "details": "Labels printed",
                "eventDateTime": "2026-03-09T08:00:00Z",
                "createdUtc": "2026-03-10T14:00:00Z",
            },
            {
                "status": 2,
                "details": "With courier",
                "eventDateTime": "2026-03-10T08:00:00Z",
                "createdUtc": "2026-03-10T14:00:00Z",
            },
        ]


# -- Updates, events and 304 -----------------------------------------------------------------


class TestUpdates:
    def test_it_answers_304_when_nothing_changed(self, api, our_key, consignment):
        with time_machine.travel(at(0), tick=False):
            leg_id = send(api, "POST", records(consignment.pk), our_key, SPEC_RECORD).json()[
                "consignmentTrackingId"
            ]
        before = snapshot()

        with time_machine.travel(at(5), tick=False):
            response = send(api, "PUT", record(consignment.pk, leg_id), our_key, SPEC_RECORD)

        assert_empty(response, 304)
        assert snapshot() == before

    def test_a_client_can_put_back_what_it_read(self, api, our_key, consignment, leg):
        read = api.get(record(consignment.pk, leg.pk), **our_key.bearer).json()
        before = snapshot()

        response = send(api, "PUT", record(consignment.pk, leg.pk), our_key, read)

        assert_empty(response, 304)
        assert snapshot() == before

    def test_absent_keys_stay_and_null_clears(self, api, our_key, consignment, leg):
        body = {"trackingUrl": "https://carrier.example/t/1"}
        send(api, "PUT", record(consignment.pk, leg.pk), our_key, body)

        response = send(api, "PUT", record(consignment.pk, leg.pk), our_key, {"trackingUrl": None})

        assert_empty(response, 200)
        leg.refresh_from_db()
        assert leg.tracking_url == ""
        assert leg.tracking_number == "TRK00009823"
        assert leg.carrier_name == "Carrier X"

    def test_a_new_carrier_name_links_the_named_carrier(self, api, our_key, consignment, leg):
        send(api, "PUT", record(consignment.pk, leg.pk), our_key, {"carrierName": "carrier y"})

        leg.refresh_from_db()
        assert leg.carrier_name == "carrier y"
        assert leg.carrier.name == "carrier y"

    def test_it_accepts_and_echoes_a_sequence(self, api, our_key, consignment, leg):
        created = send(
            api, "POST", records(consignment.pk), our_key, {"carrierName": "Y", "sequence": 7}
        ).json()["consignmentTrackingId"]
        send(api, "PUT", record(consignment.pk, leg.pk), our_key, {"sequence": 9})

        assert api.get(record(consignment.pk, created), **our_key.bearer).json()["sequence"] == 7
        assert api.get(record(consignment.pk, leg.pk), **our_key.bearer).json()["sequence"] == 9

    def test_a_status_change_appends_an_event(self, api, our_key, consignment, leg):
        send(api, "PUT", record(consignment.pk, leg.pk), our_key, {"status": 3})

        event = leg.events.get()
        assert (event.status, event.code, event.source) == (3, "IN_TRANSIT", "consignly-api")

    @pytest.mark.parametrize(
        ("before", "asked"),
        [
            ([4], 4),  # the same
            ([4], 1),  # an earlier stage: a hand-over's label, say
            ([5], 3),  # never back from Delivered
            ([3, 8], 8),  # the same problem again
            ([3], 0),  # Unknown never sets a status
        ],
    )
    def test_a_status_the_rules_would_not_apply_is_not_stored(
        self, api, our_key, consignment, leg, before, asked
    ):
        for status in before:
            assert_empty(
                send(api, "PUT", record(consignment.pk, leg.pk), our_key, {"status": status}), 200
            )
        unchanged = snapshot()

        response = send(api, "PUT", record(consignment.pk, leg.pk), our_key, {"status": asked})

        assert_empty(response, 304)
        assert snapshot() == unchanged

    @pytest.mark.parametrize(
        ("before", "asked", "after"),
        [
            ([3], 8, 8),  # a problem applies whenever it is the newest
            ([3, 8], 3, 3),  # progress at the stage reached clears it
            ([5], 10, 10),  # a cancellation is a problem too
            ([2], 4, 4),
        ],
    )
    def test_a_status_the_rules_apply_is_stored(
        self, api, our_key, consignment, leg, before, asked, after
    ):
        for status in before:
            send(api, "PUT", record(consignment.pk, leg.pk), our_key, {"status": status})

        response = send(api, "PUT", record(consignment.pk, leg.pk), our_key, {"status": asked})

        assert_empty(response, 200)
        leg.refresh_from_db()
        assert leg.status == after
        assert leg.events.count() == len(before) + 1

    def test_an_ignored_status_beside_a_real_change_stores_only_the_change(
        self, api, our_key, consignment, leg
    ):
        send(api, "PUT", record(consignment.pk, leg.pk), our_key, {"status": 4})
        body = {"status": 1, "trackingUrl": "https://carrier.example/t/9"}

        response = send(api, "PUT", record(consignment.pk, leg.pk), our_key, body)

        assert_empty(response, 200)
        leg.refresh_from_db()
        assert (leg.status, leg.tracking_url) == (4, "https://carrier.example/t/9")
        assert leg.events.count() == 1


class TestEvents:
    def test_it_answers_304_to_a_duplicate_event(self, api, our_key, consignment, leg):
        body = {"status": 3, "details": "Hub", "eventDateTime": "2026-03-09T10:00:00Z"}
        with time_machine.travel(at(4), tick=False):
            assert_empty(send(api, "POST", events(consignment.pk, leg.pk), our_key, body), 200)
        before = snapshot()

        with time_machine.travel(at(6), tick=False):
            response = send(api, "POST", events(consignment.pk, leg.pk), our_key, body)

        assert_empty(response, 304)
        assert snapshot() == before

    def test_an_event_differing_only_in_details_is_new(self, api, our_key, consignment, leg):
        body = {"status": 3, "details": "Hub", "eventDateTime": "2026-03-09T10:00:00Z"}
        send(api, "POST", events(consignment.pk, leg.pk), our_key, body)

        response = send(
            api, "POST", events(consignment.pk, leg.pk), our_key, {**body, "details": "Depot"}
        )

        assert_empty(response, 200)
        assert leg.events.count() == 2

    def test_a_duplicate_event_with_a_new_carrier_name_is_a_change(
        self, api, our_key, consignment, leg
    ):
        body = {"status": 3, "eventDateTime": "2026-03-09T10:00:00Z"}
        send(api, "POST", events(consignment.pk, leg.pk), our_key, body)

        response = send(
            api, "POST", events(consignment.pk, leg.pk), our_key, {**body, "carrierName": "Z"}
        )

        assert_empty(response, 200)
        assert leg.events.count() == 1
        leg.refresh_from_db()
        assert leg.carrier_name == "Z"

    def test_a_late_event_is_stored_but_never_moves_the_status_back(
        self, api, our_key, consignment, leg
    ):
        with time_machine.travel(at(10), tick=False):
            newer = {"status": 4, "details": "Out", "eventDateTime": f"{at(5):%FT%TZ}"}
            older = {"status": 3, "details": "Hub", "eventDateTime": f"{at(2):%FT%TZ}"}
            send(api, "POST", events(consignment.pk, leg.pk), our_key, newer)
            response = send(api, "POST", events(consignment.pk, leg.pk), our_key, older)

        assert_empty(response, 200)
        leg.refresh_from_db()
        assert leg.status == 4
        timeline = api.get(record(consignment.pk, leg.pk), **our_key.bearer).json()
        assert [e["details"] for e in timeline["trackingEvents"]] == ["Hub", "Out"]
        assert timeline["status"] == 4

    @pytest.mark.parametrize(
        ("sent", "stored"),
        [
            ("2026-03-09T10:00:00Z", "2026-03-09T10:00:00Z"),
            ("2026-03-09T12:00:00+02:00", "2026-03-09T10:00:00Z"),
            ("2026-03-09T10:00:00", "2026-03-09T10:00:00Z"),  # no offset: taken as UTC
            ("2026-03-09T10:00:00.987654Z", "2026-03-09T10:00:00Z"),  # kept to the second
        ],
    )
    def test_event_times_are_stored_and_shown_in_utc(
        self, api, our_key, consignment, leg, sent, stored
    ):
        with time_machine.travel(at(5), tick=False):
            body = {"status": 3, "eventDateTime": sent}
            send(api, "POST", events(consignment.pk, leg.pk), our_key, body)

        event = leg.events.get()
        assert event.occurred_at == dt.datetime.fromisoformat(stored)
        shown = api.get(record(consignment.pk, leg.pk), **our_key.bearer).json()
        assert shown["trackingEvents"][0]["eventDateTime"] == stored

    def test_an_event_without_a_time_occurs_now(self, api, our_key, consignment, leg):
        with time_machine.travel(at(1.5), tick=False):
            send(api, "POST", events(consignment.pk, leg.pk), our_key, {"status": 2})

        assert leg.events.get().occurred_at == at(1.5)

    def test_our_additions_are_stored(self, api, our_key, consignment, leg):
        package = consignment.packages.order_by("sequence").last()
        body = {
            "status": 5,
            "code": "delivered damaged",
            "location": "Manchester",
            "signedBy": "C. Smith",
            "packageReference": package.reference.lower(),
        }

        assert_empty(send(api, "POST", events(consignment.pk, leg.pk), our_key, body), 200)

        event = leg.events.get()
        assert (event.code, event.status, event.location, event.signed_by, event.package) == (
            "DELIVERED_DAMAGED",
            5,
            "Manchester",
            "C. Smith",
            package,
        )
        package.refresh_from_db()
        assert package.status == 5
        assert consignment.packages.exclude(pk=package.pk).get().status == 0

    def test_another_brands_package_reads_like_a_missing_one(
        self, api, our_key, consignment, leg, other_brand
    ):
        theirs = make_consignment(other_brand).packages.get().reference
        path = events(consignment.pk, leg.pk)

        foreign = send(api, "POST", path, our_key, {"status": 3, "packageReference": theirs})
        missing = send(
            api, "POST", path, our_key, {"status": 3, "packageReference": "EP-ZZZ-ZZZ-ZZZ"}
        )

        [message] = assert_v1_error(foreign, 400, "Validation Failed")
        assert message == f"packageReference {theirs} is not a package of this consignment."
        assert assert_v1_error(missing, 400, "Validation Failed") == [
            "packageReference EP-ZZZ-ZZZ-ZZZ is not a package of this consignment."
        ]
        assert not TrackingEvent.objects.exists()

    def test_a_package_not_on_the_leg_is_refused(self, api, our_key, consignment):
        first, second = consignment.packages.order_by("sequence")
        leg = services.add_leg(consignment=consignment, source=EventSource.ADMIN, packages=[first])

        response = send(
            api,
            "POST",
            events(consignment.pk, leg.pk),
            our_key,
            {"status": 3, "packageReference": second.reference},
        )

        assert assert_v1_error(response, 400, "Validation Failed") == [
            f"packageReference {second.reference} is not on this leg."
        ]


# -- One clock (design section 1) ------------------------------------------------------------
# Every path that stamps "now" keeps microseconds; the wire still prints whole seconds. These
# run on the real clock (nothing frozen) or at instants inside a second, because a clock frozen
# on a whole second once hid an event posted without a time sorting before the status event
# written a moment earlier.


def leg_status(api, credential, consignment_id, leg_id) -> tuple[int, list[int]]:
    shown = api.get(record(consignment_id, leg_id), **credential.bearer).json()
    return shown["status"], [event["status"] for event in shown["trackingEvents"]]


class TestOneClock:
    def test_an_event_posted_without_a_time_after_a_created_status_wins(
        self, api, our_key, consignment
    ):
        # The seed's own example, on the real clock: both writes usually land in one second.
        created = send(api, "POST", records(consignment.pk), our_key, {"status": 2})
        leg_id = created.json()["consignmentTrackingId"]

        posted = send(api, "POST", events(consignment.pk, leg_id), our_key, {"status": 4})

        assert_empty(posted, 200)
        assert leg_status(api, our_key, consignment.pk, leg_id) == (4, [2, 4])

    def test_create_put_and_post_on_the_real_clock_end_at_the_last_status(
        self, api, our_key, consignment
    ):
        before = timezone.now()
        leg_id = send(api, "POST", records(consignment.pk), our_key, {"status": 2}).json()[
            "consignmentTrackingId"
        ]
        send(api, "PUT", record(consignment.pk, leg_id), our_key, {"status": 3})
        send(api, "POST", events(consignment.pk, leg_id), our_key, {"status": 4})
        after = timezone.now()

        assert leg_status(api, our_key, consignment.pk, leg_id) == (4, [2, 3, 4])
        stamps = list(
            TrackingEvent.objects.filter(tracking_record_id=leg_id).values_list(
                "occurred_at", "received_at"
            )
        )
        assert all(before <= moment <= after for pair in stamps for moment in pair)
        occurred = [occurred_at for occurred_at, _ in stamps]
        assert occurred == sorted(occurred)

    def test_every_stamp_of_now_keeps_microseconds(self, api, our_key, consignment):
        moments = [
            dt.datetime(2026, 3, 9, 8, 0, 0, n * 200_000 + 123_456, tzinfo=dt.UTC) for n in range(3)
        ]
        with time_machine.travel(moments[0], tick=False):
            leg_id = send(api, "POST", records(consignment.pk), our_key, {"status": 2}).json()[
                "consignmentTrackingId"
            ]
        with time_machine.travel(moments[1], tick=False):
            send(api, "PUT", record(consignment.pk, leg_id), our_key, {"status": 3})
        with time_machine.travel(moments[2], tick=False):
            send(api, "POST", events(consignment.pk, leg_id), our_key, {"status": 4})

        stamps = TrackingEvent.objects.filter(tracking_record_id=leg_id).order_by("status")
        assert [(e.occurred_at, e.received_at) for e in stamps] == [(m, m) for m in moments]
        assert leg_status(api, our_key, consignment.pk, leg_id) == (4, [2, 3, 4])
        # The wire still prints whole seconds.
        shown = api.get(record(consignment.pk, leg_id), **our_key.bearer).json()
        assert {e["eventDateTime"] for e in shown["trackingEvents"]} == {"2026-03-09T08:00:00Z"}
        assert shown["modifiedUtc"] == "2026-03-09T08:00:00Z"

    def test_a_status_event_read_back_can_be_posted_again_as_a_duplicate(
        self, api, our_key, consignment, leg
    ):
        with time_machine.travel(at(3) + dt.timedelta(microseconds=654_321), tick=False):
            send(api, "PUT", record(consignment.pk, leg.pk), our_key, {"status": 3})
        [read] = api.get(record(consignment.pk, leg.pk), **our_key.bearer).json()["trackingEvents"]

        response = send(api, "POST", events(consignment.pk, leg.pk), our_key, read)

        assert_empty(response, 304)
        assert leg.events.count() == 1

    def test_another_time_in_the_same_second_is_still_a_new_event(
        self, api, our_key, consignment, leg
    ):
        # Only what the wire showed is recognised: another status or details in that second is
        # another event.
        with time_machine.travel(at(3) + dt.timedelta(microseconds=654_321), tick=False):
            send(api, "POST", events(consignment.pk, leg.pk), our_key, {"status": 3})
        stamp = f"{at(3):%FT%TZ}"
        body = {"status": 3, "details": "Hub", "eventDateTime": stamp}

        assert_empty(send(api, "POST", events(consignment.pk, leg.pk), our_key, body), 200)
        assert leg.events.count() == 2


# -- Paging and search -----------------------------------------------------------------------


class TestPaging:
    @pytest.fixture
    def five_legs(self, consignment):
        legs = []
        for n in range(5):
            with time_machine.travel(at(n), tick=False):
                legs.append(
                    make_leg(consignment, carrier=CarrierFactory(), tracking_number=f"PG{n}")
                )
        return [str(leg.pk) for leg in legs]

    def page(self, api, credential, path, **query):
        response = api.get(path, query, **credential.bearer)
        assert response.status_code == 200, response.content
        return response.json()

    def test_it_pages_in_created_order_with_the_real_total(
        self, api, our_key, consignment, five_legs
    ):
        path = records(consignment.pk)
        pages = [self.page(api, our_key, path, PageIndex=n, PageSize=2) for n in (1, 2, 3, 4)]

        assert [p["index"] for p in pages] == [1, 2, 3, 4]
        assert [p["total"] for p in pages] == [5, 5, 5, 5]
        ids = [[item["id"] for item in p["consignmentTracking"]] for p in pages]
        assert ids == [five_legs[:2], five_legs[2:4], five_legs[4:], []]

    def test_it_defaults_to_the_first_page_of_25(self, api, our_key, consignment):
        for n in range(27):
            make_leg(consignment, carrier=CarrierFactory(), tracking_number=f"D{n}")

        body = self.page(api, our_key, records(consignment.pk))

        assert (body["index"], body["total"], len(body["consignmentTracking"])) == (1, 27, 25)

    def test_legs_created_in_one_instant_are_ordered_by_id(self, api, our_key, consignment):
        with time_machine.travel(at(0), tick=False):
            for n in range(4):
                make_leg(consignment, carrier=CarrierFactory(), tracking_number=f"S{n}")

        items = self.page(api, our_key, records(consignment.pk))["consignmentTracking"]

        ids = [item["id"] for item in items]
        assert ids == [
            str(pk) for pk in TrackingRecord.objects.order_by("id").values_list("id", flat=True)
        ]

    @pytest.mark.parametrize(
        "query",
        [{"pageIndex": 2, "pageSize": 2}, {"pageindex": 2, "PAGESIZE": 2}],
        ids=["camelCase", "any case"],
    )
    def test_parameter_names_match_in_any_case(self, api, our_key, consignment, five_legs, query):
        body = self.page(api, our_key, records(consignment.pk), **query)

        assert body["index"] == 2
        assert [item["id"] for item in body["consignmentTracking"]] == five_legs[2:4]

    @pytest.mark.parametrize(
        ("text", "expected"),
        [("fast", ["FF1", "FF2"]), ("ff2", ["FF2"]), ("SLOW", ["SL9"]), ("nothing", [])],
    )
    def test_search_text_matches_carrier_name_or_tracking_number(
        self, api, our_key, consignment, text, expected
    ):
        for name, number in [("Fast Freight", "FF1"), ("Fast Freight", "FF2"), ("Slowboat", "SL9")]:
            services.add_leg(
                consignment=consignment,
                source=EventSource.ADMIN,
                carrier_name=name,
                tracking_number=number,
            )

        body = self.page(api, our_key, records(consignment.pk), SearchText=text)

        assert sorted(i["trackingNumber"] for i in body["consignmentTracking"]) == expected
        assert body["total"] == len(expected)

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ({"PageSize": 0}, "PageSize must be between 1 and 500."),
            ({"PageSize": 501}, "PageSize must be between 1 and 500."),
            ({"PageSize": "ten"}, "PageSize must be an integer."),
            ({"PageSize": "2.5"}, "PageSize must be an integer."),
            ({"pagesize": "99999999999999999999"}, "PageSize must be an integer."),
            ({"PageIndex": 0}, "PageIndex must be between 1 and 2147483647."),
            ({"PageIndex": -3}, "PageIndex must be between 1 and 2147483647."),
            ({"PageIndex": 2**31}, "PageIndex must be between 1 and 2147483647."),
            ({"PageIndex": "first"}, "PageIndex must be an integer."),
            ({"PageIndex": ""}, "PageIndex must be an integer."),
            ({"SearchText": "a\x00b"}, "SearchText must not contain NUL characters."),
            ({"SearchText": "x" * 201}, "SearchText must be at most 200 characters."),
        ],
    )
    @pytest.mark.parametrize("path", ["tracking", "consignments"])
    def test_bad_paging_parameters_are_named(self, api, our_key, consignment, query, message, path):
        url = records(consignment.pk) if path == "tracking" else "/v1/consignments"

        response = api.get(url, query, **our_key.bearer)

        assert assert_v1_error(response, 400, "Validation Failed") == [message]


# -- Consignments ------------------------------------------------------------------------------


class TestConsignments:
    def test_it_creates_a_consignment(self, api, our_key, brand):
        response = send(api, "POST", "/v1/consignments", our_key, NEW_CONSIGNMENT)

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"consignmentId", "reference"}
        consignment = Consignment.objects.get(pk=body["consignmentId"])
        assert consignment.reference == body["reference"]
        assert re.fullmatch(r"EC-[0-9A-Z]{3}-[0-9A-Z]{3}-[0-9A-Z]{3}", body["reference"])
        assert consignment.brand == brand
        assert consignment.customer_reference == "ORDER-1042"
        assert (
            consignment.destination_postcode,
            consignment.destination_country,
            consignment.destination_town,
        ) == ("SW1A 1AA", "GB", "London")
        assert consignment.recipient_email == "alex@example.com"
        assert consignment.expected_delivery_date == dt.date(2026, 3, 12)
        packages = list(consignment.packages.order_by("sequence"))
        assert [p.description for p in packages] == ["Boots", ""]
        assert packages[1].reference == "EP-000-034-4DG"

    def test_it_keeps_a_reference_of_the_clients_own(self, api, our_key):
        body = {**NEW_CONSIGNMENT, "reference": "ec-123-456-789"}

        response = send(api, "POST", "/v1/consignments", our_key, body)

        assert response.json()["reference"] == "EC-123-456-789"

    def test_it_lists_only_the_keys_brand_in_created_order(self, api, our_key, brand, other_brand):
        mine = []
        for n in range(3):
            with time_machine.travel(at(n), tick=False):
                mine.append(make_consignment(brand, customer_reference=f"ORD-{n}"))
        make_consignment(other_brand)

        body = api.get("/v1/consignments", {"PageSize": 2}, **our_key.bearer).json()

        assert list(body) == ["index", "total", "consignments"]
        assert (body["index"], body["total"]) == (1, 3)
        assert [c["id"] for c in body["consignments"]] == [str(c.pk) for c in mine[:2]]
        item = body["consignments"][0]
        assert set(item) == {"id", "reference", "customerReference", "status", "createdUtc"}
        assert (item["reference"], item["customerReference"]) == (mine[0].reference, "ORD-0")
        assert item["status"] == 0
        assert item["createdUtc"] == "2026-03-09T08:00:00Z"

    @pytest.mark.parametrize(("text", "expected"), [("ord-1", ["ORD-1"]), ("EC-AAA", ["ORD-A"])])
    def test_search_text_matches_reference_or_customer_reference(
        self, api, our_key, brand, text, expected
    ):
        make_consignment(brand, reference="EC-AAA-BBB-CCC", customer_reference="ORD-A")
        make_consignment(brand, customer_reference="ORD-1")

        body = api.get("/v1/consignments", {"SearchText": text}, **our_key.bearer).json()

        assert [c["customerReference"] for c in body["consignments"]] == expected

    def test_it_returns_a_consignment_with_packages_and_tracking(
        self, api, our_key, consignment, leg
    ):
        add_events(leg, (1, "IN_TRANSIT"))

        response = api.get(f"/v1/consignments/{consignment.pk}", **our_key.bearer)

        assert response.status_code == 200
        body = response.json()
        assert list(body) == [
            "id",
            "reference",
            "customerReference",
            "status",
            "packages",
            "consignmentTracking",
            "trackingPageUrl",
        ]
        assert (body["id"], body["reference"]) == (str(consignment.pk), "EC-AAA-BBB-CCC")
        assert body["customerReference"] is None
        assert body["status"] == 3
        assert [set(p) for p in body["packages"]] == [
            {"id", "reference", "description", "status"}
        ] * 2
        assert [p["description"] for p in body["packages"]] == ["Parcel 1", "Parcel 2"]
        assert [p["status"] for p in body["packages"]] == [3, 3]
        [tracking] = body["consignmentTracking"]
        assert set(tracking) == LIST_KEYS
        assert (tracking["id"], tracking["status"]) == (str(leg.pk), 3)
        assert body["trackingPageUrl"] == "http://testserver/track/EC-AAA-BBB-CCC/"


class TestReferencesHeldElsewhere:
    """A reference the client chose may be held by any brand. The answer must not say whose, and
    each such answer is a lookup, so it counts against RATE_LIMIT_LOOKUP like the page's."""

    @pytest.fixture
    def held(self, consignment) -> dict:
        """What our brand holds, as each field would name it in a request."""
        package = consignment.packages.order_by("sequence").first()
        return {"reference": consignment.reference, "package": package.reference}

    @staticmethod
    def naming(field: str, reference: str) -> dict:
        if field == "reference":
            return {**NEW_CONSIGNMENT, "reference": reference}
        return {**NEW_CONSIGNMENT, "packages": [{"description": "Boots"}, {"reference": reference}]}

    MESSAGES = {
        "reference": "reference {} cannot be used; leave it out to have one generated.",
        "package": "packages[1].reference {} cannot be used; leave it out to have one generated.",
    }

    @pytest.mark.parametrize("field", ["reference", "package"])
    def test_a_reference_in_use_reads_the_same_whoever_holds_it(
        self, api, our_key, their_key, held, field
    ):
        body = self.naming(field, held[field])
        before = snapshot()

        ours = send(api, "POST", "/v1/consignments", our_key, body)
        theirs = send(api, "POST", "/v1/consignments", their_key, body)

        assert assert_v1_error(ours, 400, "Validation Failed") == [
            self.MESSAGES[field].format(held[field])
        ]
        assert (theirs.status_code, theirs.content) == (ours.status_code, ours.content)
        assert snapshot() == before

    @pytest.mark.parametrize("field", ["reference", "package"])
    def test_a_reference_taken_by_a_racing_request_reads_the_same(
        self, api, their_key, brand, field
    ):
        from django.db import connection

        wanted = {"reference": "EC-RAC-ING-001", "package": "EP-RAC-ING-001"}[field]
        table = (Consignment if field == "reference" else Package)._meta.db_table
        raced = []

        def competitor(execute, sql, params, many, context):
            # Another request stores the reference between our check and our insert.
            if not raced and sql.startswith(f'INSERT INTO "{table}"') and wanted in params:
                raced.append(True)
                services.create_consignment(
                    brand=brand,
                    reference=wanted if field == "reference" else None,
                    packages=[services.PackageSpec(wanted if field == "package" else None)],
                )
            return execute(sql, params, many, context)

        with connection.execute_wrapper(competitor):
            response = send(api, "POST", "/v1/consignments", their_key, self.naming(field, wanted))

        assert raced
        assert assert_v1_error(response, 400, "Validation Failed") == [
            self.MESSAGES[field].format(wanted)
        ]

    def test_conflicts_use_up_the_brands_lookup_allowance(
        self, api, our_key, their_key, other_brand, held, settings
    ):
        settings.RATE_LIMIT_LOOKUP = "3/h"
        theirs = make_consignment(other_brand, reference="EC-THE-IRS-001")
        _key, secret = services.issue_api_key(name="Elsewhere WMS", brand=other_brand)
        second_key = SimpleNamespace(bearer={"HTTP_AUTHORIZATION": f"Bearer {secret}"})
        conflicts = [
            self.naming("reference", held["reference"]),  # another brand's
            self.naming("package", held["package"]),  # another brand's package
            self.naming("reference", theirs.reference),  # its own: counted all the same
        ]

        with time_machine.travel(at(0.25), tick=False):
            answers = [send(api, "POST", "/v1/consignments", their_key, b) for b in conflicts]
            over = send(api, "POST", "/v1/consignments", their_key, conflicts[0])
            # Once the allowance is gone a free reference is refused too, before it is looked
            # at: otherwise "stored" against "refused" would still tell which ones are taken.
            free = send(
                api,
                "POST",
                "/v1/consignments",
                their_key,
                self.naming("reference", "EC-FRE-E00-001"),
            )
            other_key = send(api, "POST", "/v1/consignments", second_key, conflicts[0])
            generated = send(
                api, "POST", "/v1/consignments", their_key, {**NEW_CONSIGNMENT, "packages": [{}]}
            )
            elsewhere = send(api, "POST", "/v1/consignments", our_key, conflicts[2])

        assert [a.status_code for a in answers] == [400, 400, 400]
        for refused in (over, free, other_key):
            [message] = assert_v1_error(refused, 429, "Too Many Requests")
            assert "retry in" in message
            # At 08:15:00.123456 the hour's window ends at 09:00, 2,699.88 s later: rounded up.
            assert refused["Retry-After"] == "2700"
        assert over.content == free.content == other_key.content
        assert not Consignment.objects.filter(reference="EC-FRE-E00-001").exists()
        # Generating a reference looks nothing up; another brand has its own allowance.
        assert generated.status_code == 200
        assert_v1_error(elsewhere, 400, "Validation Failed")


# -- Who may do what ---------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/v1/consignments", None),
    ("POST", "/v1/consignments", NEW_CONSIGNMENT),
    ("GET", "/v1/consignments/{c}", None),
    ("GET", "/v1/consignments/{c}/tracking", None),
    ("POST", "/v1/consignments/{c}/tracking", SPEC_RECORD),
    ("GET", "/v1/consignments/{c}/tracking/{t}", None),
    ("PUT", "/v1/consignments/{c}/tracking/{t}", {"status": 5}),
    ("POST", "/v1/consignments/{c}/tracking/{t}/event", {"status": 5}),
]
SCOPED = [e for e in ENDPOINTS if "{c}" in e[1]]


def endpoint_id(endpoint) -> str:
    return f"{endpoint[0]} {endpoint[1]}"


class TestAccess:
    @pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
    def test_a_request_without_a_key_is_unauthorized(self, api, consignment, leg, endpoint):
        method, path, body = endpoint
        before = snapshot()

        response = send(api, method, path.format(c=consignment.pk, t=leg.pk), None, body)

        assert assert_v1_error(response, 401, "Unauthorized") == ["An API key is required."]
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
        assert snapshot() == before

    @pytest.mark.parametrize(
        "header",
        ["Bearer tpk_not-a-key", "Bearer " + "x" * 300, "Basic dXNlcjpwYXNz", "Bearer"],
        ids=["unknown", "too long", "basic", "empty"],
    )
    def test_a_bad_key_is_unauthorized(self, api, consignment, header):
        response = api.get("/v1/consignments", HTTP_AUTHORIZATION=header)

        assert_v1_error(response, 401, "Unauthorized")

    def test_an_inactive_key_is_unauthorized(self, api, our_key):
        ApiKey.objects.filter(pk=our_key.key.pk).update(active=False)

        assert_v1_error(api.get("/v1/consignments", **our_key.bearer), 401, "Unauthorized")

    @pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
    def test_a_carrier_key_is_forbidden(self, api, carrier_key, consignment, leg, endpoint):
        method, path, body = endpoint
        before = snapshot()

        response = send(api, method, path.format(c=consignment.pk, t=leg.pk), carrier_key, body)

        assert assert_v1_error(response, 403, "Forbidden") == [
            "This endpoint needs a client key (one issued for a brand)."
        ]
        assert snapshot() == before

    @pytest.mark.parametrize("endpoint", SCOPED, ids=endpoint_id)
    def test_another_brands_consignment_is_not_found_like_a_missing_one(
        self, api, their_key, our_key, consignment, leg, endpoint
    ):
        method, path, body = endpoint
        before = snapshot()

        foreign = send(api, method, path.format(c=consignment.pk, t=leg.pk), their_key, body)
        missing = send(api, method, path.format(c=uuid.uuid4(), t=uuid.uuid4()), our_key, body)

        assert_v1_error(foreign, 404, "Not Found")
        assert foreign.json() == missing.json()
        assert missing.status_code == 404
        assert snapshot() == before

    @pytest.mark.parametrize("endpoint", SCOPED, ids=endpoint_id)
    @pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "EC-AAA-BBB-CCC", "%00"])
    def test_a_malformed_id_is_not_found(self, api, our_key, consignment, leg, endpoint, bad_id):
        method, path, body = endpoint
        urls = [path.format(c=bad_id, t=leg.pk)]
        if "{t}" in path:
            urls.append(path.format(c=consignment.pk, t=bad_id))

        for url in urls:
            assert_v1_error(send(api, method, url, our_key, body), 404, "Not Found")

    def test_a_leg_of_another_consignment_is_not_found(self, api, our_key, consignment, brand):
        elsewhere = make_leg(make_consignment(brand), tracking_number="ELSE1")

        response = api.get(record(consignment.pk, elsewhere.pk), **our_key.bearer)

        assert assert_v1_error(response, 404, "Not Found") == ["Tracking record not found."]

    def test_unknown_paths_under_v1_are_not_found_in_the_envelope(self, api, our_key):
        response = api.get("/v1/shipments", **our_key.bearer)

        assert_v1_error(response, 404, "Not Found")

    @pytest.mark.parametrize(
        ("method", "path", "allowed"),
        [
            ("DELETE", "/v1/consignments/{c}/tracking", "GET, POST, HEAD"),
            ("PATCH", "/v1/consignments/{c}/tracking/{t}", "GET, PUT, HEAD"),
            ("GET", "/v1/consignments/{c}/tracking/{t}/event", "POST"),
            ("PUT", "/v1/consignments", "GET, POST, HEAD"),
            ("OPTIONS", "/v1/consignments/{c}", "GET, HEAD"),
        ],
    )
    def test_other_methods_are_not_allowed(
        self, api, our_key, consignment, leg, method, path, allowed
    ):
        url = path.format(c=consignment.pk, t=leg.pk)

        response = send(api, method, url, our_key, {})

        assert_v1_error(response, 405, "Method Not Allowed")
        assert response["Allow"] == allowed

    def test_a_key_over_its_rate_limit_is_told_when_to_retry(self, api, our_key, settings):
        settings.RATE_LIMIT_API = "2/m"
        # 08:00:20.123456: the minute's window ends at 08:01, 39.88 s later.
        with time_machine.travel(at(0) + dt.timedelta(seconds=20), tick=False):
            for _ in range(2):
                assert api.get("/v1/consignments", **our_key.bearer).status_code == 200

            response = api.get("/v1/consignments", **our_key.bearer)

        assert_v1_error(response, 429, "Too Many Requests")
        assert response["Retry-After"] == "40"  # rounded up to whole seconds

    def test_a_created_record_is_named_after_the_key(self, api, our_key, consignment):
        ApiKey.objects.filter(pk=our_key.key.pk).update(name="Warehouse WMS")

        body = {"trackingNumber": "FF123456789"}
        response = send(api, "POST", records(consignment.pk), our_key, body)

        leg = TrackingRecord.objects.get(pk=response.json()["consignmentTrackingId"])
        assert leg.integration_name == "Warehouse WMS"


# -- Bad input ---------------------------------------------------------------------------------

LONG_URL = "https://carrier.example/" + "a" * 2000

RECORD_RULES = [
    ({"status": 12}, "status must be between 0 and 11."),
    ({"status": -1}, "status must be between 0 and 11."),
    ({"status": "3"}, "status must be an integer."),
    ({"status": 3.5}, "status must be an integer."),
    ({"status": 3.0}, "status must be an integer."),
    ({"status": True}, "status must be an integer."),
    ({"status": None}, "status must not be null."),
    ({"status": [3]}, "status must be an integer."),
    ({"trackingUrl": "ftp://carrier.example/1"}, "trackingUrl must be an http:// or https:// URL."),
    ({"trackingUrl": "javascript:alert(1)"}, "trackingUrl must be an http:// or https:// URL."),
    ({"trackingUrl": "carrier.example/1"}, "trackingUrl must be an http:// or https:// URL."),
    ({"trackingUrl": LONG_URL}, "trackingUrl must be at most 2000 characters."),
    ({"carrierName": "x" * 201}, "carrierName must be at most 200 characters."),
    ({"trackingNumber": "x" * 101}, "trackingNumber must be at most 100 characters."),
    ({"carrierName": 42}, "carrierName must be a string."),
    ({"carrierName": ["DHL"]}, "carrierName must be a string."),
    ({"trackingNumber": {"n": 1}}, "trackingNumber must be a string."),
    ({"trackingUrl": False}, "trackingUrl must be a string."),
    ({"carrierName": "DH\x00L"}, "carrierName must not contain NUL characters."),
    ({"carrierName": "\ud800"}, "carrierName must be valid Unicode text."),
    ({"sequence": 0}, "sequence must be between 1 and 10000."),
    ({"sequence": 10001}, "sequence must be between 1 and 10000."),
    ({"sequence": "2"}, "sequence must be an integer."),
    ({"sequence": None}, "sequence must not be null."),
    (
        {"statuss": 3},
        "statuss is not a field of this request "
        "(fields: carrierName, status, trackingNumber, trackingUrl, sequence).",
    ),
]
EVENT_RULES = [
    ({}, "status is required."),
    ({"details": "Hub"}, "status is required."),
    ({"status": 12}, "status must be between 0 and 11."),
    ({"status": "4"}, "status must be an integer."),
    ({"status": 4, "details": "x" * 1001}, "details must be at most 1000 characters."),
    ({"status": 4, "details": 7}, "details must be a string."),
    (
        {"status": 4, "eventDateTime": "yesterday"},
        "eventDateTime must be an ISO-8601 date and time such as 2026-03-09T23:40:11Z.",
    ),
    (
        {"status": 4, "eventDateTime": "2026-03-09"},
        "eventDateTime must be an ISO-8601 date and time such as 2026-03-09T23:40:11Z.",
    ),
    (
        {"status": 4, "eventDateTime": "2026-02-30T10:00:00Z"},
        "eventDateTime must be an ISO-8601 date and time such as 2026-03-09T23:40:11Z.",
    ),
    (
        {"status": 4, "eventDateTime": 1773043200},
        "eventDateTime must be an ISO-8601 date and time such as 2026-03-09T23:40:11Z.",
    ),
    (
        {"status": 4, "eventDateTime": "0001-01-01T00:00:00+01:00"},
        "eventDateTime must be an ISO-8601 date and time such as 2026-03-09T23:40:11Z.",
    ),
    (
        {"status": 4, "eventDateTime": "1999-12-31T23:59:59Z"},
        "eventDateTime must not be before the year 2000.",
    ),
    (
        {"status": 4, "eventDateTime": "2026-03-11T08:00:01Z"},
        "eventDateTime must not be more than 24 hours in the future.",
    ),
    (
        {"status": 4, "code": "not a code!"},
        "code must be letters, digits and underscores, like DELIVERED.",
    ),
    ({"status": 4, "code": ""}, "code must not be blank."),
    ({"status": 4, "code": "X" * 51}, "code must be at most 50 characters."),
    ({"status": 4, "location": "x" * 201}, "location must be at most 200 characters."),
    ({"status": 4, "signedBy": 5}, "signedBy must be a string."),
    ({"status": 4, "carrierName": "x" * 201}, "carrierName must be at most 200 characters."),
    ({"status": 4, "packageReference": "EP-1"}, "packageReference must look like EP-XXX-XXX-XXX."),
    (
        {"when": "now"},
        "when is not a field of this request (fields: status, details, eventDateTime, "
        "carrierName, code, location, signedBy, packageReference).",
    ),
]
CONSIGNMENT_RULES = [
    ({}, "destination is required."),
    ({}, "packages is required."),
    ({**NEW_CONSIGNMENT, "packages": []}, "packages must list at least one package."),
    ({**NEW_CONSIGNMENT, "packages": "two"}, "packages must be a list."),
    ({**NEW_CONSIGNMENT, "packages": [{}] * 501}, "packages must list at most 500 packages."),
    (
        {**NEW_CONSIGNMENT, "packages": [{}, {"reference": "nope"}]},
        "packages[1].reference must look like EP-XXX-XXX-XXX.",
    ),
    (
        {**NEW_CONSIGNMENT, "packages": [{"description": 5}]},
        "packages[0].description must be a string.",
    ),
    ({**NEW_CONSIGNMENT, "packages": ["Boots"]}, "packages[0] must be a JSON object."),
    (
        {**NEW_CONSIGNMENT, "packages": [{"reference": "EP-000-000-001", "Reference": "x"}]},
        "packages[0].reference must be sent once, not in several cases (reference, Reference).",
    ),
    (
        {**NEW_CONSIGNMENT, "packages": [{"reference": "EP-000-000-001"}] * 2},
        "packages must not repeat a reference (EP-000-000-001).",
    ),
    ({**NEW_CONSIGNMENT, "destination": "London"}, "destination must be a JSON object."),
    ({**NEW_CONSIGNMENT, "destination": None}, "destination must not be null."),
    (
        {**NEW_CONSIGNMENT, "destination": {"countryCode": "GB"}},
        "destination.town is required.",
    ),
    (
        {**NEW_CONSIGNMENT, "destination": {"countryCode": "GB", "town": " "}},
        "destination.town must not be blank.",
    ),
    (
        {**NEW_CONSIGNMENT, "destination": {"countryCode": "G1", "town": "Leeds"}},
        "destination.countryCode must be a two-letter ISO country code.",
    ),
    (
        {**NEW_CONSIGNMENT, "destination": {"countryCode": "GBR", "town": "Leeds"}},
        "destination.countryCode must be a two-letter ISO country code.",
    ),
    (
        {
            **NEW_CONSIGNMENT,
            "destination": {"countryCode": "GB", "town": "L", "postcode": "x" * 21},
        },
        "destination.postcode must be at most 20 characters.",
    ),
    ({**NEW_CONSIGNMENT, "recipientEmail": "alex"}, "recipientEmail must be an email address."),
    (
        {**NEW_CONSIGNMENT, "expectedDeliveryDate": "12/03/2026"},
        "expectedDeliveryDate must be a date such as 2026-03-09.",
    ),
    ({**NEW_CONSIGNMENT, "reference": "EC-1"}, "reference must look like EC-XXX-XXX-XXX."),
    ({**NEW_CONSIGNMENT, "reference": " " * 41}, "reference must be at most 40 characters."),
    (
        {**NEW_CONSIGNMENT, "reference": "EC-AAA-BBB-CCC"},
        "reference EC-AAA-BBB-CCC cannot be used; leave it out to have one generated.",
    ),
    (
        {**NEW_CONSIGNMENT, "customerReference": "x" * 101},
        "customerReference must be at most 100 characters.",
    ),
    (
        {**NEW_CONSIGNMENT, "recipientName": "x" * 201},
        "recipientName must be at most 200 characters.",
    ),
]
BAD_INPUT = (
    [("POST", "/v1/consignments/{c}/tracking", body, message) for body, message in RECORD_RULES]
    + [
        ("PUT", "/v1/consignments/{c}/tracking/{t}", body, message)
        for body, message in RECORD_RULES
    ]
    + [("POST", "/v1/consignments/{c}/tracking/{t}/event", b, m) for b, m in EVENT_RULES]
    + [("POST", "/v1/consignments", body, message) for body, message in CONSIGNMENT_RULES]
)


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    BAD_INPUT,
    ids=[f"{m} {p.split('/')[-1]}: {msg}"[:90] for m, p, _, msg in BAD_INPUT],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    api, our_key, consignment, leg, method, path, body, message
):
    before = snapshot()

    with time_machine.travel(at(0), tick=False):
        response = send(api, method, path.format(c=consignment.pk, t=leg.pk), our_key, body)

    assert message in assert_v1_error(response, 400, "Validation Failed")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p, body in ENDPOINTS if body is not None],
    ids=[f"{m} {p}" for m, p, body in ENDPOINTS if body is not None],
)
class TestBodies:
    @pytest.mark.parametrize(
        "raw", ['{"status": 3', "status=3", "{'status': 3}", "NaN", '{"status": NaN}', "[" * 5000]
    )
    def test_malformed_json_is_refused(self, api, our_key, consignment, leg, method, path, raw):
        before = snapshot()

        response = send(api, method, path.format(c=consignment.pk, t=leg.pk), our_key, raw=raw)

        [message] = assert_v1_error(response, 400, "Validation Failed")
        assert message.startswith("The request body is not valid JSON (")
        assert snapshot() == before

    @pytest.mark.parametrize("raw", ["[]", '[{"status": 3}]', '"status"', "3", "null", "true"])
    def test_json_that_is_not_an_object_is_refused(
        self, api, our_key, consignment, leg, method, path, raw
    ):
        before = snapshot()

        response = send(api, method, path.format(c=consignment.pk, t=leg.pk), our_key, raw=raw)

        assert assert_v1_error(response, 400, "Validation Failed") == [
            "The request body must be a JSON object."
        ]
        assert snapshot() == before

    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""]
    )
    def test_a_body_that_is_not_json_is_unsupported(
        self, api, our_key, consignment, leg, method, path, content_type
    ):
        before = snapshot()
        url = path.format(c=consignment.pk, t=leg.pk)

        response = send(api, method, url, our_key, raw="status=3", content_type=content_type)

        assert assert_v1_error(response, 415, "Unsupported Media Type") == [
            "Request bodies must be sent as application/json."
        ]
        assert snapshot() == before


def test_read_only_fields_sent_back_are_ignored(api, our_key, consignment, leg):
    body = {
        "id": str(uuid.uuid4()),
        "integrationName": "Someone else",
        "createdUtc": "2000-01-01T00:00:00Z",
        "modifiedUtc": "nonsense",
        "lastUpdatedDate": 7,
        "trackingEvents": [{"status": 99}],
        "status": 2,
    }

    response = send(api, "PUT", record(consignment.pk, leg.pk), our_key, body)

    assert_empty(response, 200)
    leg.refresh_from_db()
    assert (leg.status, leg.integration_name) == (2, "")


def test_an_event_read_back_can_be_posted_again_as_a_duplicate(api, our_key, consignment, leg):
    with time_machine.travel(at(3), tick=False):
        send(api, "POST", events(consignment.pk, leg.pk), our_key, {"status": 3, "details": "Hub"})
        [read] = api.get(record(consignment.pk, leg.pk), **our_key.bearer).json()["trackingEvents"]

        response = send(api, "POST", events(consignment.pk, leg.pk), our_key, read)

    assert_empty(response, 304)
    assert leg.events.count() == 1


# -- Query counts ------------------------------------------------------------------------------


def build(consignment, *, legs: int, events_per_leg: int) -> None:
    for n in range(legs):
        leg = make_leg(consignment, carrier=CarrierFactory(), tracking_number=f"Q{n}")
        add_events(
            leg, *[(hours, "IN_TRANSIT", f"scan {hours}") for hours in range(events_per_leg)]
        )


class TestQueryCounts:
    # Every request: 1 for the key, 1 for the rate counter's upsert (none when Redis keeps the
    # counters; the key's last_used was written just now, so no write for it). Then the
    # endpoint's own reads:
    #   tracking list: the consignment (the scope check), the count, the page   = 3
    #   tracking record: the Timeline's head, its legs with events               = 2
    #   consignment list: the count, the page                                    = 2
    #   consignment: the Timeline's head, its legs with events                   = 2
    AUTH = 1
    READS = {
        "/v1/consignments/{c}/tracking": 3,
        "/v1/consignments/{c}/tracking/{t}": 2,
        "/v1/consignments": 2,
        "/v1/consignments/{c}": 2,
    }

    @pytest.mark.parametrize("path", list(READS))
    def test_reads_take_a_fixed_number_of_queries(
        self, api, our_key, brand, django_assert_num_queries, path
    ):
        counts = []
        for legs, events_per_leg in [(1, 2), (6, 10)]:
            consignment = make_consignment(brand, packages=legs)
            build(consignment, legs=legs, events_per_leg=events_per_leg)
            leg = consignment.legs.order_by("sequence").last()
            warm(our_key)

            expected = self.AUTH + rate_limit_queries() + self.READS[path]
            with django_assert_num_queries(expected) as captured:
                response = api.get(path.format(c=consignment.pk, t=leg.pk), **our_key.bearer)

            assert response.status_code == 200
            counts.append(len(captured.captured_queries))
        assert counts[0] == counts[1]


# -- The OpenAPI document ----------------------------------------------------------------------


def test_the_schema_documents_every_operation(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()

    operations = {
        operation["operationId"]: (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/v1/")
        for method, operation in item.items()
    }
    assert set(operations) == {
        "consignly_consignments_list",
        "consignly_consignments_create",
        "consignly_consignments_retrieve",
        "consignly_tracking_list",
        "consignly_tracking_create",
        "consignly_tracking_retrieve",
        "consignly_tracking_update",
        "consignly_tracking_event_create",
        "consignly_webhook_subscriptions_list",
        "consignly_webhook_subscriptions_create",
        "consignly_webhook_subscriptions_test",
        "consignly_webhook_subscriptions_delete",
    }
    for path, _method, operation in operations.values():
        tag = "webhook subscriptions" if "/webhook-subscriptions" in path else "tracking"
        assert operation["tags"] == [f"Consignly {tag} (/v1)"]
        assert operation["security"] == [{"bearerKey": []}]
        assert {"200", "401", "403", "429"} <= set(operation["responses"])
        has_id = "{consignmentId}" in path or "{webhookSubscriptionId}" in path
        assert ("404" in operation["responses"]) == has_id
    for name in ("consignly_tracking_update", "consignly_tracking_event_create"):
        assert "content" not in operations[name][2]["responses"]["304"]
        assert "content" not in operations[name][2]["responses"]["200"]
    assert schema["components"]["schemas"]["ConsignlyError"]["required"] == [
        "ErrorMessages",
        "ErrorType",
    ]


# -- The documented patterns are the rules -----------------------------------------------------

SOME_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@given(
    st.one_of(SOME_TEXT, st.builds("{}://{}".format, st.sampled_from(["http", "HtTpS"]), SOME_TEXT))
)
@example("\n")
@example("http://example.com/\n")
def test_the_url_pattern_accepts_exactly_what_the_model_does(value):
    try:
        validate_http_url(value)
        valid = True
    except ValidationError:
        valid = False

    # JSON Schema reads patterns as ECMA-262, where `$` is the end of the text; Python's `$`
    # also matches before a final newline, so the check ends the pattern with `\Z` instead.
    assert consignly.HTTP_URL.endswith("$")
    assert bool(re.search(consignly.HTTP_URL[:-1] + r"\Z", value)) == valid


@given(st.text(alphabet=st.sampled_from("aZ9_- \t\x1c\x85\u3000-"), max_size=8))
def test_the_code_pattern_accepts_exactly_what_normalise_code_does(value):
    try:
        valid = rules.normalise_code(value) is not None
    except ValueError:
        valid = False

    assert bool(re.search(consignly.EVENT_CODE, value)) == valid


@given(st.text(alphabet=st.sampled_from("eEcCpP-0aZ \t\x1f\u2028"), max_size=18))
def test_the_reference_pattern_accepts_what_the_model_does_once_canonical(value):
    canonical = value.strip().upper()
    valid = canonical == "" or bool(CONSIGNMENT_REFERENCE.match(canonical))

    assert bool(re.search(consignly.reference_pattern("EC"), value)) == valid
