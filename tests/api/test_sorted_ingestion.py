"""POST /tracking/carrierevents: carriers' batches, checked whole, stored once, all-or-nothing."""

import copy
import datetime as dt
import json
import threading

import pytest
from django.db import close_old_connections
from django.test import Client

from tests.factories import (
    BrandFactory,
    add_events,
    at,
    make_consignment,
    make_leg,
    postgres_only,
    rate_limit_queries,
)
from tests.helpers import (
    assert_envelope,
    carrier_batch,
    count_operations,
    envelope_details,
    post_events,
    run_threads,
    tracking_event,
    warm,
)
from tracking import access
from tracking.models import Consignment, EventSource, Package, TrackingEvent
from tracking.status import Status

pytestmark = pytest.mark.django_db

EVENT = "ConsignmentTrackingEvents[0].PackageTrackingEvents[0].TrackingEvents[0]"


@pytest.fixture
def package(consignment) -> Package:
    return consignment.packages.order_by("sequence").first()


@pytest.fixture
def other_package(consignment) -> Package:
    return consignment.packages.order_by("sequence").last()


@pytest.fixture
def good(leg, package) -> dict:
    return carrier_batch(leg, package, [tracking_event(1, "COLLECTED_BY_CARRIER", "Collected")])


def statuses(leg, package, consignment) -> tuple:
    leg.refresh_from_db()
    package.refresh_from_db()
    consignment.refresh_from_db()
    return leg.status, package.status, consignment.status


def stored() -> list[tuple]:
    """Every stored event as (leg, package, when, code, description, location), oldest first."""
    return list(
        TrackingEvent.objects.order_by("occurred_at", "description").values_list(
            "tracking_record_id", "package_id", "occurred_at", "code", "description", "location"
        )
    )


class TestStoring:
    def test_a_valid_batch_is_stored_and_statuses_derived(
        self, client, carrier_key, consignment, leg, package, other_package
    ):
        body = carrier_batch(
            leg,
            package,
            [
                tracking_event(1, "COLLECTED_BY_CARRIER", "Collected", Location="Depot"),
                tracking_event(
                    5, "DELIVERED", "Delivered to customer", SignedBy="C. Smith", Location="Door"
                ),
            ],
        )

        response = post_events(client, body, carrier_key)

        assert response.status_code == 200
        assert response.content == b""
        assert "Content-Type" not in response
        stored = list(TrackingEvent.objects.order_by("occurred_at").values())
        assert [
            (e["code"], e["status"], e["description"], e["location"], e["signed_by"])
            for e in stored
        ] == [
            ("COLLECTED_BY_CARRIER", Status.DISPATCHED, "Collected", "Depot", ""),
            ("DELIVERED", Status.DELIVERED, "Delivered to customer", "Door", "C. Smith"),
        ]
        assert {(e["tracking_record_id"], e["package_id"], e["source"]) for e in stored} == {
            (leg.pk, package.pk, EventSource.SORTED)
        }
        assert [e["occurred_at"] for e in stored] == [at(1), at(5)]
        assert statuses(leg, package, consignment) == (
            Status.DELIVERED,
            Status.DELIVERED,
            Status.UNKNOWN,  # the other package has no event yet: the slowest parcel rules
        )
        other_package.refresh_from_db()
        assert other_package.status == Status.UNKNOWN

    def test_the_consignment_is_delivered_once_every_package_is(
        self, client, carrier_key, consignment, leg, package, other_package
    ):
        body = carrier_batch(leg, package, [tracking_event(3, "DELIVERED", "Delivered")])
        body["ConsignmentTrackingEvents"][0]["PackageTrackingEvents"].append(
            {
                "PackageReference": other_package.reference,
                "TrackingEvents": [tracking_event(2, "DELIVERED", "Delivered")],
            }
        )

        assert post_events(client, body, carrier_key).status_code == 200

        assert statuses(leg, other_package, consignment) == (Status.DELIVERED,) * 3

    def test_posted_events_read_back_through_both_gets(
        self, client, carrier_key, our_key, leg, package, other_package
    ):
        add_events(leg, (0, "COLLECTED_BY_CARRIER", "Collected"))
        post_events(
            client,
            carrier_batch(leg, package, [tracking_event(2, "DELIVERED", "Left in porch")]),
            carrier_key,
        )

        nested = client.get("/tracking/EC-AAA-BBB-CCC", **our_key.subscription).json()
        flat = client.get("/tracking/flattened/EC-AAA-BBB-CCC", **our_key.subscription).json()

        def descriptions(events):
            return [e["Description"] for e in events]

        assert [descriptions(p["Legs"][0]["Events"]) for p in nested["TrackedPackages"]] == [
            ["Collected", "Left in porch"],
            ["Collected"],
        ]
        assert [descriptions(p["Events"]) for p in flat["TrackedPackages"]] == [
            ["Collected", "Left in porch"],
            ["Collected"],
        ]

    def test_events_posted_out_of_order_are_shown_in_order_and_never_move_status_back(
        self, client, carrier_key, our_key, consignment, leg, package
    ):
        post_events(
            client,
            carrier_batch(leg, package, [tracking_event(5, "DELIVERED", "Delivered")]),
            carrier_key,
        )
        post_events(
            client,
            carrier_batch(leg, package, [tracking_event(1, "IN_TRANSIT", "Late scan")]),
            carrier_key,
        )

        body = client.get("/tracking/EC-AAA-BBB-CCC", **our_key.subscription).json()

        events = body["TrackedPackages"][0]["Legs"][0]["Events"]
        assert [e["Description"] for e in events] == ["Late scan", "Delivered"]
        assert statuses(leg, package, consignment)[:2] == (Status.DELIVERED, Status.DELIVERED)

    def test_timestamps_are_read_with_any_offset_z_and_seven_fractional_digits(
        self, client, carrier_key, leg, package
    ):
        stamps = [
            "2026-03-09T07:08:11.7398573+00:00",  # .NET DateTimeOffset: 7 digits
            "2026-03-09T10:08:11.5+01:00",
            "2026-03-09T09:08:11Z",
        ]
        events = [{"TimeStamp": s, "Code": "IN_TRANSIT", "Description": s} for s in stamps]

        assert (
            post_events(client, carrier_batch(leg, package, events), carrier_key).status_code == 200
        )

        utc = dt.UTC
        assert list(
            TrackingEvent.objects.order_by("occurred_at").values_list("occurred_at", flat=True)
        ) == [
            dt.datetime(2026, 3, 9, 7, 8, 11, 739857, tzinfo=utc),
            dt.datetime(2026, 3, 9, 9, 8, 11, 0, tzinfo=utc),
            dt.datetime(2026, 3, 9, 9, 8, 11, 500000, tzinfo=utc),
        ]

    def test_codes_are_normalised_and_unknown_codes_kept_without_changing_status(
        self, client, carrier_key, our_key, consignment, leg, package
    ):
        body = carrier_batch(
            leg,
            package,
            [
                tracking_event(1, "Out for-delivery", "On the van"),
                tracking_event(2, "parcel_weighed", "Weighed"),
            ],
        )

        assert post_events(client, body, carrier_key).status_code == 200

        assert list(
            TrackingEvent.objects.order_by("occurred_at").values_list("code", "status")
        ) == [
            ("OUT_FOR_DELIVERY", Status.OUT_FOR_DELIVERY),
            ("PARCEL_WEIGHED", Status.UNKNOWN),
        ]
        assert statuses(leg, package, consignment)[:2] == (
            Status.OUT_FOR_DELIVERY,
            Status.OUT_FOR_DELIVERY,
        )
        shown = client.get("/tracking/EC-AAA-BBB-CCC", **our_key.subscription).json()
        assert shown["TrackedPackages"][0]["Legs"][0]["Events"][-1]["Code"] == "PARCEL_WEIGHED"

    def test_a_re_posted_batch_stores_nothing_new(self, client, carrier_key, leg, package, good):
        assert post_events(client, good, carrier_key).status_code == 200
        revision = Consignment.objects.get().revision

        again = post_events(client, good, carrier_key)

        assert again.status_code == 200
        assert again.content == b""
        assert TrackingEvent.objects.count() == 1
        assert Consignment.objects.get().revision == revision

    def test_a_batch_overlapping_a_stored_one_adds_only_the_new_events(
        self, client, carrier_key, leg, package
    ):
        post_events(
            client, carrier_batch(leg, package, [tracking_event(1), tracking_event(2)]), carrier_key
        )

        response = post_events(
            client,
            carrier_batch(leg, package, [tracking_event(1), tracking_event(2), tracking_event(3)]),
            carrier_key,
        )

        assert response.status_code == 200
        assert stored() == [
            (leg.pk, package.pk, at(hours), "IN_TRANSIT", "Scanned", "") for hours in (1, 2, 3)
        ]

    def test_the_same_event_twice_in_one_batch_is_stored_once(
        self, client, carrier_key, leg, package
    ):
        assert (
            post_events(
                client,
                carrier_batch(leg, package, [tracking_event(1), tracking_event(1)]),
                carrier_key,
            ).status_code
            == 200
        )
        assert TrackingEvent.objects.count() == 1

    def test_an_event_differing_only_in_description_is_a_new_event(
        self, client, carrier_key, leg, package
    ):
        post_events(
            client,
            carrier_batch(leg, package, [tracking_event(1, description="Scanned")]),
            carrier_key,
        )
        post_events(
            client,
            carrier_batch(leg, package, [tracking_event(1, description="Scanned again")]),
            carrier_key,
        )
        assert stored() == [
            (leg.pk, package.pk, at(1), "IN_TRANSIT", description, "")
            for description in ("Scanned", "Scanned again")
        ]

    def test_one_batch_may_span_consignments_legs_and_packages(
        self, client, brand, carrier, carrier_key, leg, package, other_package
    ):
        elsewhere = make_consignment(brand, packages=1)
        second_leg = make_leg(elsewhere, carrier=carrier, tracking_number="TRK2")
        body = {
            "CarrierReference": "CARRIER_X",
            "ConsignmentTrackingEvents": [
                {
                    "ConsignmentTrackingReference": "TRK00009823",
                    "PackageTrackingEvents": [
                        {
                            "PackageReference": package.reference,
                            "TrackingEvents": [tracking_event(1)],
                        },
                        {
                            "PackageReference": other_package.reference,
                            "TrackingEvents": [tracking_event(2)],
                        },
                    ],
                },
                {
                    "ConsignmentTrackingReference": "TRK2",
                    "PackageTrackingEvents": [
                        {
                            "PackageReference": elsewhere.packages.get().reference,
                            "TrackingEvents": [tracking_event(3, "DELIVERED")],
                        }
                    ],
                },
            ],
        }

        assert post_events(client, body, carrier_key).status_code == 200

        assert sorted(
            TrackingEvent.objects.values_list(
                "tracking_record__tracking_number", "package__reference"
            )
        ) == sorted(
            [
                ("TRK00009823", package.reference),
                ("TRK00009823", other_package.reference),
                ("TRK2", elsewhere.packages.get().reference),
            ]
        )
        second_leg.refresh_from_db()
        assert second_leg.status == Status.DELIVERED

    def test_empty_lists_are_a_batch_of_nothing(self, client, carrier_key, leg, package):
        for body in [
            {"CarrierReference": "CARRIER_X", "ConsignmentTrackingEvents": []},
            carrier_batch(leg, package, []),
        ]:
            assert post_events(client, body, carrier_key).status_code == 200
        assert not TrackingEvent.objects.exists()

    def test_the_carrier_reference_is_matched_without_regard_to_case(
        self, client, carrier_key, leg, package
    ):
        body = carrier_batch(leg, package, [tracking_event(1)], carrier_reference=" carrier_x ")
        assert post_events(client, body, carrier_key).status_code == 200
        assert stored() == [(leg.pk, package.pk, at(1), "IN_TRANSIT", "Scanned", "")]

    def test_text_in_any_script_is_stored_as_given(self, client, carrier_key, leg, package):
        text = "Zugestellt an Frau Müller 📦 <b>&amp;</b>"
        body = carrier_batch(
            leg, package, [tracking_event(1, description=text, SignedBy="Müller", Location="Köln")]
        )

        assert post_events(client, body, carrier_key).status_code == 200

        stored = TrackingEvent.objects.get()
        assert (stored.description, stored.signed_by, stored.location) == (text, "Müller", "Köln")

    def test_package_references_are_matched_without_regard_to_case(
        self, client, carrier_key, leg, package
    ):
        body = carrier_batch(leg, package, [tracking_event(1)])
        body["ConsignmentTrackingEvents"][0]["PackageTrackingEvents"][0]["PackageReference"] = (
            package.reference.lower()
        )
        assert post_events(client, body, carrier_key).status_code == 200
        assert stored() == [(leg.pk, package.pk, at(1), "IN_TRANSIT", "Scanned", "")]

    def test_another_brands_leg_with_our_number_never_takes_our_events(
        self, client, carrier, carrier_key, their_key, leg, package
    ):
        # Any brand may book a leg with any carrier and number (it cannot know which are
        # taken); the package posted proves which consignment is meant.
        theirs = client.post(
            "/v1/consignments",
            {"destination": {"countryCode": "GB", "town": "Leeds"}, "packages": [{}]},
            content_type="application/json",
            **their_key.bearer,
        ).json()
        added = client.post(
            f"/v1/consignments/{theirs['consignmentId']}/tracking",
            {"carrierName": carrier.name, "trackingNumber": leg.tracking_number},
            content_type="application/json",
            **their_key.bearer,
        )
        assert added.status_code == 200
        their_leg_id = added.json()["consignmentTrackingId"]
        their_package = Package.objects.get(consignment_id=theirs["consignmentId"])

        ours = post_events(
            client, carrier_batch(leg, package, [tracking_event(1, "IN_TRANSIT")]), carrier_key
        )
        mixed = carrier_batch(leg, package, [tracking_event(2, "OUT_FOR_DELIVERY")])
        mixed["ConsignmentTrackingEvents"][0]["PackageTrackingEvents"].append(
            {"PackageReference": their_package.reference, "TrackingEvents": [tracking_event(3)]}
        )
        both = post_events(client, mixed, carrier_key)

        assert (ours.status_code, both.status_code) == (200, 200)
        stored = TrackingEvent.objects.order_by("occurred_at")
        assert [(str(e.tracking_record_id), e.package_id) for e in stored] == [
            (str(leg.pk), package.pk),
            (str(leg.pk), package.pk),
            (their_leg_id, their_package.pk),
        ]
        leg.refresh_from_db()
        assert leg.status == Status.OUT_FOR_DELIVERY

    def test_a_recycled_tracking_number_means_the_newest_leg(
        self, client, brand, carrier, carrier_key, leg, package
    ):
        newer = make_consignment(brand, packages=1)
        newest_leg = make_leg(newer, carrier=carrier, tracking_number=leg.tracking_number)

        body = carrier_batch(newest_leg, newer.packages.get(), [tracking_event(1)])

        assert post_events(client, body, carrier_key).status_code == 200
        assert TrackingEvent.objects.get().tracking_record_id == newest_leg.pk

    def test_unused_extra_fields_are_ignored(self, client, carrier_key, leg, package):
        body = carrier_batch(leg, package, [tracking_event(1, Latitude=53.4, Location="Leeds")])
        body["Comment"] = "sent by the night run"
        assert post_events(client, body, carrier_key).status_code == 200
        assert stored() == [(leg.pk, package.pk, at(1), "IN_TRANSIT", "Scanned", "Leeds")]

    def test_the_sdk_path_is_the_same_endpoint(self, client, carrier_key, leg, package, good):
        response = post_events(client, good, carrier_key, path="/tracking/carrierTrackingEvents")
        assert response.status_code == 200
        assert stored() == [(leg.pk, package.pk, at(1), "COLLECTED_BY_CARRIER", "Collected", "")]
        leg.refresh_from_db()
        assert leg.status == Status.DISPATCHED

    def test_bearer_keys_and_version_1_1_are_accepted(
        self, client, carrier_key, good, leg, package
    ):
        response = client.post(
            "/tracking/carrierevents",
            json.dumps(good),
            content_type="application/json",
            HTTP_ELECTIO_API_VERSION="1.1",
            **carrier_key.bearer,
        )
        assert response.status_code == 200
        assert stored() == [(leg.pk, package.pk, at(1), "COLLECTED_BY_CARRIER", "Collected", "")]


# -- Bad input: a clear 4xx, nothing stored, never a 500 ------------------------------------------


def at_path(body: dict, dotted: str):
    """The object at a path like 'ConsignmentTrackingEvents[0].PackageTrackingEvents[0]'."""
    node = body
    for part in dotted.split("."):
        name, _, index = part.partition("[")
        node = node[name]
        if index:
            node = node[int(index.rstrip("]"))]
    return node


def replace(path: str, name: str, value):
    def change(body):
        target = at_path(body, path) if path else body
        if value is DELETE:
            del target[name]
        else:
            target[name] = value

    return change


DELETE = object()
CONSIGNMENT = "ConsignmentTrackingEvents[0]"
PACKAGE = f"{CONSIGNMENT}.PackageTrackingEvents[0]"
TN = "ConsignmentTrackingReference"

# (where, field, value, Code): the Target is where.field, or where.field[0] for a bad item.
BAD_FIELDS = [
    ("", "CarrierReference", DELETE, "Required"),
    ("", "CarrierReference", None, "Required"),
    ("", "CarrierReference", 42, "InvalidType"),
    ("", "CarrierReference", "  ", "Required"),
    ("", "ConsignmentTrackingEvents", DELETE, "Required"),
    ("", "ConsignmentTrackingEvents", "TRK00009823", "InvalidType"),
    ("", "ConsignmentTrackingEvents", {"a": 1}, "InvalidType"),
    ("", "ConsignmentTrackingEvents", [None], "InvalidType[0]"),
    ("", "ConsignmentTrackingEvents", [7], "InvalidType[0]"),
    (CONSIGNMENT, TN, DELETE, "Required"),
    (CONSIGNMENT, TN, 9823, "InvalidType"),
    (CONSIGNMENT, TN, "x" * 101, "TooLong"),
    (CONSIGNMENT, TN, "NOPE123", "UnknownTrackingReference"),
    (CONSIGNMENT, TN, "TRK\x0000009823", "InvalidCharacter"),
    (CONSIGNMENT, "PackageTrackingEvents", DELETE, "Required"),
    (CONSIGNMENT, "PackageTrackingEvents", "EP-1", "InvalidType"),
    (CONSIGNMENT, "PackageTrackingEvents", [[]], "InvalidType[0]"),
    (PACKAGE, "PackageReference", DELETE, "Required"),
    (PACKAGE, "PackageReference", ["EP-AAA-BBB-CCC"], "InvalidType"),
    (PACKAGE, "PackageReference", "EP-BAD", "InvalidPackageReference"),
    (PACKAGE, "PackageReference", "EC-AAA-BBB-CCC", "InvalidPackageReference"),
    (PACKAGE, "PackageReference", "EP-ZZZ-ZZZ-ZZZ", "PackageNotOnLeg"),
    (PACKAGE, "TrackingEvents", DELETE, "Required"),
    (PACKAGE, "TrackingEvents", {"TimeStamp": "x"}, "InvalidType"),
    (PACKAGE, "TrackingEvents", [None], "InvalidType[0]"),
    (EVENT, "TimeStamp", DELETE, "Required"),
    (EVENT, "TimeStamp", None, "Required"),
    (EVENT, "TimeStamp", 1773043200, "InvalidType"),
    (EVENT, "TimeStamp", "yesterday", "InvalidTimestamp"),
    (EVENT, "TimeStamp", "2026-02-30T08:00:00Z", "InvalidTimestamp"),
    (EVENT, "TimeStamp", "2026-03-09T08:00:00+25:00", "InvalidTimestamp"),
    (EVENT, "TimeStamp", "2026-03-09T08:00:00" + "0" * 100, "InvalidTimestamp"),
    (EVENT, "TimeStamp", "2026-03-09T08:00:00", "MissingOffset"),
    (EVENT, "TimeStamp", "2026-03-09", "MissingOffset"),
    (EVENT, "TimeStamp", "1999-12-31T23:59:59Z", "TimestampOutOfRange"),
    (EVENT, "TimeStamp", "0001-01-01T00:00:00+01:00", "TimestampOutOfRange"),
    (EVENT, "TimeStamp", "9999-12-31T23:59:59-01:00", "TimestampOutOfRange"),
    (EVENT, "Code", DELETE, "Required"),
    (EVENT, "Code", 5, "InvalidType"),
    (EVENT, "Code", True, "InvalidType"),
    (EVENT, "Code", " ", "Required"),
    (EVENT, "Code", "DELIVERED!", "InvalidCode"),
    (EVENT, "Code", "A" * 51, "InvalidCode"),
    (EVENT, "Description", DELETE, "Required"),
    (EVENT, "Description", None, "Required"),
    (EVENT, "Description", {"text": "hi"}, "InvalidType"),
    (EVENT, "Description", "x" * 1001, "TooLong"),
    (EVENT, "Description", "nul\x00byte", "InvalidCharacter"),
    (EVENT, "Description", "Zugestellt \ud83d", "InvalidCharacter"),
    (EVENT, "SignedBy", 5, "InvalidType"),
    (EVENT, "SignedBy", "x" * 201, "TooLong"),
    (EVENT, "Location", ["Leeds"], "InvalidType"),
    (EVENT, "Location", "x" * 201, "TooLong"),
    (EVENT, "Location", "\udc00Leeds", "InvalidCharacter"),
]


class TestBadInput:
    @pytest.mark.parametrize(
        ("where", "name", "value", "code"),
        BAD_FIELDS,
        ids=[f"{row[1]}-{row[3]}-{n}" for n, row in enumerate(BAD_FIELDS)],
    )
    def test_a_bad_field_is_named_and_nothing_is_stored(
        self, client, carrier_key, leg, good, where, name, value, code
    ):
        body = copy.deepcopy(good)
        replace(where, name, value)(body)
        code, bad_item, _ = code.partition("[0]")
        target = f"{where}.{name}{bad_item}".lstrip(".")

        response = post_events(client, body, carrier_key)

        assert_envelope(response, 400, "ValidationFailed")
        assert envelope_details(response) == [(code, target)]
        assert not TrackingEvent.objects.exists()

    @pytest.mark.parametrize("body", [[], "a string", 42, None, True])
    def test_a_body_that_is_not_an_object_is_refused(self, client, carrier_key, body):
        response = post_events(client, json.dumps(body), carrier_key)
        assert_envelope(response, 400, "ValidationFailed")
        assert envelope_details(response) == [("InvalidType", "")]

    @pytest.mark.parametrize(
        "raw",
        [
            '{"CarrierReference": ',
            "{'CarrierReference': 'CARRIER_X'}",
            '{"Code": NaN}',
            b"\xff\xfe{}",
            "[" * 100_000 + "]" * 100_000,
            '{"Code": ' + "9" * 5000 + "}",
        ],
        ids=["truncated", "single-quotes", "nan", "not-utf8", "deep", "huge-number"],
    )
    def test_malformed_json_is_refused(self, client, carrier_key, raw):
        response = post_events(client, raw, carrier_key)
        assert_envelope(response, 400, "MalformedJson")
        assert not TrackingEvent.objects.exists()

    def test_an_empty_body_is_refused(self, client, carrier_key):
        assert_envelope(post_events(client, "", carrier_key), 400, "MalformedJson")

    def test_other_content_types_are_unsupported(self, client, carrier_key, good):
        for content_type in ["application/xml", "text/plain", "application/x-www-form-urlencoded"]:
            response = client.post(
                "/tracking/carrierevents",
                json.dumps(good),
                content_type=content_type,
                **carrier_key.subscription,
            )
            assert_envelope(response, 415, "UnsupportedMediaType")
        assert not TrackingEvent.objects.exists()

    def test_a_body_over_the_size_limit_is_refused_unread(self, client, carrier_key):
        response = client.post(
            "/tracking/carrierevents",
            "{}",
            content_type="application/json",
            CONTENT_LENGTH=str(11 * 1024 * 1024),
            **carrier_key.subscription,
        )
        assert_envelope(response, 413, "PayloadTooLarge")

    def test_one_bad_event_deep_in_a_big_batch_fails_it_all(
        self, client, carrier_key, leg, package, other_package
    ):
        body = carrier_batch(
            leg, package, [tracking_event(i / 60, description=f"scan {i}") for i in range(150)]
        )
        body["ConsignmentTrackingEvents"][0]["PackageTrackingEvents"].append(
            {
                "PackageReference": other_package.reference,
                "TrackingEvents": [
                    tracking_event(i / 60, description=f"scan {i}") for i in range(150)
                ],
            }
        )
        body["ConsignmentTrackingEvents"][0]["PackageTrackingEvents"][1]["TrackingEvents"][137][
            "TimeStamp"
        ] = "2026-03-09T25:00:00Z"

        response = post_events(client, body, carrier_key)

        assert_envelope(response, 400, "ValidationFailed")
        assert envelope_details(response) == [
            (
                "InvalidTimestamp",
                "ConsignmentTrackingEvents[0].PackageTrackingEvents[1].TrackingEvents[137].TimeStamp",
            )
        ]
        assert not TrackingEvent.objects.exists()
        leg.refresh_from_db()
        assert leg.status == Status.UNKNOWN

    def test_every_problem_is_reported_at_once(self, client, carrier_key, leg, package):
        body = carrier_batch(
            leg,
            package,
            [
                tracking_event(1),
                {"TimeStamp": "2026-03-09T08:00:00", "Code": 3},
                {"Description": "x"},
            ],
        )
        body["ConsignmentTrackingEvents"].append(
            {"ConsignmentTrackingReference": "UNKNOWN1", "PackageTrackingEvents": []}
        )

        response = post_events(client, body, carrier_key)

        body = assert_envelope(response, 400, "ValidationFailed")
        events = "ConsignmentTrackingEvents[0].PackageTrackingEvents[0].TrackingEvents"
        assert envelope_details(response) == [
            ("MissingOffset", f"{events}[1].TimeStamp"),
            ("InvalidType", f"{events}[1].Code"),
            ("Required", f"{events}[1].Description"),
            ("Required", f"{events}[2].TimeStamp"),
            ("Required", f"{events}[2].Code"),
            (
                "UnknownTrackingReference",
                "ConsignmentTrackingEvents[1].ConsignmentTrackingReference",
            ),
        ]
        assert body["Message"] == "The batch has 6 problems; nothing was stored."
        assert not TrackingEvent.objects.exists()

    def test_details_stop_at_the_first_hundred(self, client, carrier_key, leg, package):
        body = carrier_batch(leg, package, [tracking_event(i / 60, code="NO!") for i in range(150)])

        response = post_events(client, body, carrier_key)

        body = assert_envelope(response, 400, "ValidationFailed")
        assert len(body["Details"]) == 100
        assert body["Message"] == (
            "The batch has 150 problems (the first 100 are listed); nothing was stored."
        )

    def test_more_than_five_thousand_events_is_too_large_a_batch(
        self, client, carrier_key, leg, package
    ):
        body = carrier_batch(
            leg, package, [tracking_event(i / 600, description=str(i)) for i in range(5_001)]
        )

        response = post_events(client, body, carrier_key)

        assert_envelope(response, 400, "BatchTooLarge")
        assert envelope_details(response) == [("BatchTooLarge", "ConsignmentTrackingEvents")]
        assert not TrackingEvent.objects.exists()

    @pytest.mark.parametrize("level", ["ConsignmentTrackingEvents", "PackageTrackingEvents"])
    def test_more_than_five_thousand_items_is_too_large_a_batch(
        self, client, carrier_key, leg, package, level
    ):
        # Items cost work even when they hold no events, so they are capped as events are.
        body = carrier_batch(leg, package, [tracking_event(1)])
        if level == "ConsignmentTrackingEvents":
            item = {
                "ConsignmentTrackingReference": leg.tracking_number,
                "PackageTrackingEvents": [],
            }
            body[level] += [item] * 5_000
        else:
            item = {"PackageReference": package.reference, "TrackingEvents": []}
            body["ConsignmentTrackingEvents"][0][level] += [item] * 5_000

        response = post_events(client, body, carrier_key)

        assert_envelope(response, 400, "BatchTooLarge")
        assert envelope_details(response) == [("BatchTooLarge", "ConsignmentTrackingEvents")]
        assert "5000 " + level in response.json()["Message"]
        assert not TrackingEvent.objects.exists()

    def test_five_thousand_items_are_not_too_many(self, client, carrier_key, leg, package):
        item = {"ConsignmentTrackingReference": leg.tracking_number, "PackageTrackingEvents": []}
        body = carrier_batch(leg, package, [tracking_event(1)])
        body["ConsignmentTrackingEvents"] += [item] * 4_998
        package_items = [{"PackageReference": package.reference, "TrackingEvents": []}] * 4_999
        body["ConsignmentTrackingEvents"].append({**item, "PackageTrackingEvents": package_items})
        assert post_events(client, body, carrier_key).status_code == 200
        assert TrackingEvent.objects.count() == 1

    def test_a_batch_over_django_s_form_limit_but_within_ours_is_stored(
        self, client, settings, carrier_key, leg, package
    ):
        # Django refuses request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) with an HTML
        # page; a carrier's batch may be up to 10 MiB.
        long = "d" * 990
        body = carrier_batch(
            leg, package, [tracking_event(i / 600, description=f"{i} {long}") for i in range(3000)]
        )
        raw = json.dumps(body)
        assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < len(raw) < 10 * 1024 * 1024

        assert post_events(client, raw, carrier_key).status_code == 200
        assert TrackingEvent.objects.count() == 3000

    def test_five_thousand_events_is_not_too_many(self, client, carrier_key, leg, package):
        body = carrier_batch(
            leg, package, [tracking_event(i / 600, description=str(i)) for i in range(5_000)]
        )
        assert post_events(client, body, carrier_key).status_code == 200
        assert TrackingEvent.objects.count() == 5_000


class TestWhoMayPost:
    def test_a_carrier_may_post_with_its_key_as_the_subscription_key_query_parameter(
        self, client, carrier_key, leg, package, good
    ):
        path = f"/tracking/carrierevents?subscription-key={carrier_key.secret}"
        assert post_events(client, good, path=path).status_code == 200
        assert TrackingEvent.objects.count() == 1

    def test_another_carriers_reference_is_a_carrier_mismatch(
        self, client, carrier_key, other_carrier, leg, package
    ):
        body = carrier_batch(
            leg, package, [tracking_event(1)], carrier_reference=other_carrier.code
        )

        response = post_events(client, body, carrier_key)

        assert_envelope(response, 403, "CarrierMismatch")
        assert envelope_details(response) == [("CarrierMismatch", "CarrierReference")]
        assert not TrackingEvent.objects.exists()

    def test_a_carrier_may_not_post_for_another_carriers_leg(
        self, client, consignment, other_carrier, other_carrier_key, leg, package
    ):
        make_leg(consignment, carrier=other_carrier, tracking_number="Y-LEG")
        body = carrier_batch(leg, package, [tracking_event(1)], carrier_reference="CARRIER_Y")

        response = post_events(client, body, other_carrier_key)

        assert_envelope(response, 400, "ValidationFailed")
        assert envelope_details(response) == [
            (
                "UnknownTrackingReference",
                "ConsignmentTrackingEvents[0].ConsignmentTrackingReference",
            )
        ]
        assert not TrackingEvent.objects.exists()

    def test_a_package_of_another_consignment_is_not_on_the_leg(
        self, client, brand, carrier_key, leg
    ):
        stranger = make_consignment(BrandFactory(slug="stranger"), packages=1).packages.get()

        response = post_events(
            client, carrier_batch(leg, stranger, [tracking_event(1)]), carrier_key
        )

        assert_envelope(response, 400, "ValidationFailed")
        assert envelope_details(response) == [("PackageNotOnLeg", f"{PACKAGE}.PackageReference")]
        unknown = post_events(
            client,
            carrier_batch(leg, Package(reference="EP-ZZZ-ZZZ-ZZZ"), [tracking_event(1)]),
            carrier_key,
        )
        assert [
            d["Message"].replace("EP-ZZZ-ZZZ-ZZZ", stranger.reference)
            for d in unknown.json()["Details"]
        ] == [d["Message"] for d in response.json()["Details"]]
        assert not TrackingEvent.objects.exists()

    def test_a_package_the_leg_does_not_carry_is_not_on_the_leg(
        self, client, consignment, carrier, carrier_key, package, other_package
    ):
        courier = make_leg(
            consignment, carrier=carrier, tracking_number="ONLY2", packages=[other_package]
        )

        refused = post_events(
            client, carrier_batch(courier, package, [tracking_event(1)]), carrier_key
        )
        accepted = post_events(
            client, carrier_batch(courier, other_package, [tracking_event(1)]), carrier_key
        )

        assert envelope_details(refused) == [("PackageNotOnLeg", f"{PACKAGE}.PackageReference")]
        assert accepted.status_code == 200
        assert TrackingEvent.objects.get().package_id == other_package.pk

    def test_a_leg_changed_after_the_check_is_refused_by_the_write_with_a_target(
        self, client, consignment, carrier, carrier_key, package, other_package, monkeypatch
    ):
        courier = make_leg(
            consignment, carrier=carrier, tracking_number="ONLY2", packages=[other_package]
        )
        # As if the package was taken off the leg between the check and the write.
        monkeypatch.setattr(access, "leg_carrying", lambda candidates, _package: candidates[0])

        response = post_events(
            client, carrier_batch(courier, package, [tracking_event(1)]), carrier_key
        )

        assert_envelope(response, 400, "ValidationFailed")
        assert envelope_details(response) == [("ValidationFailed", f"{PACKAGE}.PackageReference")]
        assert not TrackingEvent.objects.exists()

    def test_a_client_key_may_not_post(self, client, our_key, good):
        body = assert_envelope(post_events(client, good, our_key), 403, "Forbidden")
        assert "carrier key" in body["Message"]
        assert not TrackingEvent.objects.exists()

    def test_no_key_is_unauthorized(self, client, good):
        assert_envelope(post_events(client, good), 401, "Unauthorized")

    def test_another_api_version_is_refused(self, client, carrier_key, good):
        response = post_events(client, good, carrier_key, HTTP_ELECTIO_API_VERSION="2")
        assert_envelope(response, 400, "UnsupportedApiVersion")
        assert not TrackingEvent.objects.exists()


# -- Statements per batch -------------------------------------------------------------------------


class TestStatementCounts:
    # Authentication 1, the throttle's counter upsert (1, or none with Redis), resolving 2 (legs
    # by tracking number with the packages they list, packages by reference), storing 9
    # (savepoint, lock, legs with the packages they carry, the consignments' packages, one
    # INSERT ... RETURNING of the new events, legs' statuses, packages' statuses, consignment
    # touch, the brand's webhook subscriptions, release): 13 plus the throttle, however many
    # events the batch holds.
    FIXED = 13

    @pytest.mark.parametrize("events", [100, 300])
    def test_a_batch_is_stored_with_a_fixed_number_of_statements(
        self, client, carrier_key, leg, package, django_assert_num_queries, events
    ):
        body = carrier_batch(
            leg, package, [tracking_event(i / 60, description=f"scan {i}") for i in range(events)]
        )
        warm(carrier_key)

        with django_assert_num_queries(self.FIXED + rate_limit_queries()):
            response = post_events(client, body, carrier_key)

        assert response.status_code == 200
        assert TrackingEvent.objects.count() == events

    @pytest.mark.parametrize("events", [100, 300])
    def test_a_re_posted_batch_writes_nothing_but_the_insert_it_skips(
        self, client, carrier_key, leg, package, django_assert_num_queries, events
    ):
        body = carrier_batch(
            leg, package, [tracking_event(i / 60, description=f"scan {i}") for i in range(events)]
        )
        post_events(client, body, carrier_key)
        warm(carrier_key)

        # As above without the three status updates: the INSERT stores nothing.
        with django_assert_num_queries(self.FIXED - 4 + rate_limit_queries()):
            assert post_events(client, body, carrier_key).status_code == 200
        assert TrackingEvent.objects.count() == events


# -- Concurrency ---------------------------------------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_eight_connections_posting_the_same_batch_at_once_store_it_once(
    carrier_key, consignment, leg, package, other_package
):
    body = carrier_batch(
        leg, package, [tracking_event(i / 60, description=f"scan {i}") for i in range(150)]
    )
    body["ConsignmentTrackingEvents"][0]["PackageTrackingEvents"].append(
        {
            "PackageReference": other_package.reference,
            "TrackingEvents": [
                tracking_event(i / 60, "DELIVERED", f"scan {i}") for i in range(150)
            ],
        }
    )
    raw = json.dumps(body)
    barrier = threading.Barrier(8, timeout=30)
    answers = []

    def carrier_connection():
        client = Client(raise_request_exception=True)
        barrier.wait()
        answers.append(
            client.post(
                "/tracking/carrierevents",
                raw,
                content_type="application/json",
                **carrier_key.subscription,
            ).status_code
        )

    run_threads([carrier_connection] * 8, timeout=60)
    close_old_connections()

    assert answers == [200] * 8
    assert TrackingEvent.objects.count() == 300
    assert statuses(leg, other_package, consignment) == (
        Status.DELIVERED,
        Status.DELIVERED,
        Status.IN_TRANSIT,
    )


def test_the_batch_helper_and_the_events_it_stores_agree(client, carrier_key, leg, package):
    # The factories' add_events and a posted batch share one identity for the same event.
    add_events(leg, (1, "IN_TRANSIT", "Scanned"), package=package)
    assert (
        post_events(
            client, carrier_batch(leg, package, [tracking_event(1)]), carrier_key
        ).status_code
        == 200
    )
    assert TrackingEvent.objects.count() == 1


# -- What a batch costs as it grows --------------------------------------------------------------


class TestBatchCost:
    """Every step of a batch is linear in its size: going from 1x to 2x to 3x a size, each
    step costs about as many more operations as the one before (the fixed cost of a request
    drops out). A step whose cost grows with the square of the size would make the second
    increment 5/3 of the first."""

    LINEAR = 1.2

    @staticmethod
    def items_only(carrier, count: int) -> dict:
        return {
            "CarrierReference": carrier.code,
            "ConsignmentTrackingEvents": [
                {"ConsignmentTrackingReference": f"NUMBER{n}", "PackageTrackingEvents": []}
                for n in range(count)
            ],
        }

    @staticmethod
    def one_event_per_package(leg, packages) -> dict:
        return {
            "CarrierReference": leg.carrier.code,
            "ConsignmentTrackingEvents": [
                {
                    "ConsignmentTrackingReference": leg.tracking_number,
                    "PackageTrackingEvents": [
                        {
                            "PackageReference": package.reference,
                            "TrackingEvents": [tracking_event(1)],
                        }
                        for package in packages
                    ],
                }
            ],
        }

    def growth(self, client, carrier_key, body_of_size, status) -> float:
        """The second increment's cost over the first's, for sizes 130, 260 and 390."""
        warm(carrier_key)
        costs = []
        for size in (10, 130, 260, 390):  # the first warms the code paths
            raw = json.dumps(body_of_size(size))

            def send(raw=raw):
                assert post_events(client, raw, carrier_key).status_code == status

            costs.append(count_operations(send))
        _warm_up, one, two, three = costs
        return (three - two) / (two - one)

    def test_items_without_events_cost_linearly(self, client, carrier, carrier_key):
        # Unknown numbers: looked up, then refused, which is where a quadratic look-up showed.
        growth = self.growth(client, carrier_key, lambda n: self.items_only(carrier, n), 400)
        assert growth < self.LINEAR

    def test_a_valid_batch_costs_linearly(self, client, brand, carrier, carrier_key):
        consignment = make_consignment(brand, packages=390)
        leg = make_leg(consignment, carrier=carrier, tracking_number="LINEHAUL")
        packages = list(consignment.packages.order_by("sequence"))
        # Each size stores new events: the same event for the first packages is a duplicate.
        growth = self.growth(
            client,
            carrier_key,
            lambda n: self.one_event_per_package(leg, packages[-n:]),
            200,
        )
        assert growth < self.LINEAR
