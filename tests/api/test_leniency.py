"""Both APIs read bodies as their ASP.NET originals do (design section 7.1): property names in
any case, unknown properties ignored and named in X-Ignored-Properties, references in any case.

What stays strict: a body in which no property is known, and a property sent twice in
different cases, are refused with 400 and store nothing.
"""

import json
import uuid

import pytest
from rest_framework.test import APIClient

from tests.factories import at, make_consignment, make_leg
from tests.helpers import (
    assert_envelope,
    assert_v1_error,
    carrier_batch,
    envelope_details,
    post_events,
    tracking_event,
)
from tracking.api import wire
from tracking.models import Consignment, Package, TrackingEvent, TrackingRecord
from tracking.status import Status

pytestmark = pytest.mark.django_db

HEADER = "X-Ignored-Properties"
EVENT = "ConsignmentTrackingEvents[0].PackageTrackingEvents[0].TrackingEvents[0]"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def package(consignment) -> Package:
    return consignment.packages.order_by("sequence").first()


def send(api, method, path, credential, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return api.generic(
        method, path, data=data, content_type="application/json", **credential.bearer
    )


def records(consignment) -> str:
    return f"/v1/consignments/{consignment.pk}/tracking"


def record(consignment, leg) -> str:
    return f"{records(consignment)}/{leg.pk}"


def snapshot() -> tuple:
    return (
        Consignment.objects.count(),
        Package.objects.count(),
        list(TrackingRecord.objects.order_by("id").values()),
        TrackingEvent.objects.count(),
    )


# -- /v1: names in any case ----------------------------------------------------------------------


class TestConsignlyNames:
    def test_a_record_is_created_from_pascal_and_lower_case_keys(self, api, our_key, consignment):
        body = {
            "CarrierName": "Fast Freight Co",
            "STATUS": 1,
            "trackingnumber": "FF123456789",
            "TrackingUrl": "https://fastfreight.com/track/FF123456789",
        }

        response = send(api, "POST", records(consignment), our_key, body)

        assert response.status_code == 200, response.content
        assert HEADER not in response
        leg = TrackingRecord.objects.get(pk=response.json()["consignmentTrackingId"])
        assert (leg.carrier_name, leg.status, leg.tracking_number, leg.tracking_url) == (
            "Fast Freight Co",
            Status.PRINTED,
            "FF123456789",
            "https://fastfreight.com/track/FF123456789",
        )

    def test_an_update_and_an_event_read_pascal_case(self, api, our_key, consignment, leg):
        put = send(api, "PUT", record(consignment, leg), our_key, {"TrackingNumber": "NEW1"})
        event = send(
            api,
            "POST",
            f"{record(consignment, leg)}/event",
            our_key,
            {"Status": 4, "Details": "On its way", "SignedBy": "", "EventDateTime": None},
        )

        assert (put.status_code, event.status_code) == (200, 200)
        leg.refresh_from_db()
        assert leg.tracking_number == "NEW1"
        assert list(leg.events.values_list("status", "description")) == [(4, "On its way")]

    def test_nested_objects_and_lists_match_in_any_case(self, api, our_key):
        body = {
            "CustomerReference": "ORDER-7",
            "Destination": {"PostCode": "LS1 4AP", "COUNTRYCODE": "gb", "town": "Leeds"},
            "Packages": [{"Description": "Boots"}, {"REFERENCE": "ep-000-034-4dg"}],
        }

        response = api.post("/v1/consignments", body, format="json", **our_key.bearer)

        assert response.status_code == 200, response.content
        consignment = Consignment.objects.get(pk=response.json()["consignmentId"])
        assert (
            consignment.customer_reference,
            consignment.destination_postcode,
            consignment.destination_country,
            consignment.destination_town,
        ) == ("ORDER-7", "LS1 4AP", "GB", "Leeds")
        packages = consignment.packages.order_by("sequence")
        assert [p.description for p in packages] == ["Boots", ""]
        assert packages[1].reference == "EP-000-034-4DG"


# -- /v1: what is ignored, and what is refused -------------------------------------------------


class TestConsignlyIgnored:
    def test_an_echoed_integration_name_is_ignored_and_named(self, api, our_key, consignment):
        body = {"carrierName": "Fast Freight Co", "integrationName": "Mine", "colour": "red"}

        response = send(api, "POST", records(consignment), our_key, body)

        assert response.status_code == 200, response.content
        assert response[HEADER] == "integrationName, colour"
        leg = TrackingRecord.objects.get(pk=response.json()["consignmentTrackingId"])
        assert leg.integration_name == "Harbour shop"  # the key's name, not the body's

    def test_unknown_nested_properties_are_named_by_json_path(self, api, our_key):
        body = {
            "destination": {"countryCode": "GB", "town": "Leeds", "floor": 3},
            "packages": [{}, {"colour": "red", "description": "Socks"}],
            "notes": "leave at the door",
        }

        response = api.post("/v1/consignments", body, format="json", **our_key.bearer)

        assert response.status_code == 200, response.content
        assert response[HEADER] == "notes, destination.floor, packages[1].colour"

    def test_an_event_with_an_unknown_property_is_stored(self, api, our_key, consignment, leg):
        body = {"status": 4, "when": "now"}

        response = send(api, "POST", f"{record(consignment, leg)}/event", our_key, body)

        assert response.status_code == 200
        assert response[HEADER] == "when"
        assert leg.events.get().status == 4

    def test_read_only_properties_sent_back_are_named(self, api, our_key, consignment, leg):
        read = api.get(record(consignment, leg), **our_key.bearer).json()

        response = send(api, "PUT", record(consignment, leg), our_key, {**read, "status": 3})

        assert response.status_code == 200
        assert set(response[HEADER].split(", ")) == {
            "id",
            "integrationName",
            "createdUtc",
            "modifiedUtc",
            "lastUpdatedDate",
            "trackingEvents",
        }

    def test_a_refusal_names_what_it_ignored_too(self, api, our_key, consignment, leg):
        body = {"staus": 4, "details": "Hub"}

        response = send(api, "POST", f"{record(consignment, leg)}/event", our_key, body)

        assert assert_v1_error(response, 400, "Validation Failed") == ["status is required."]
        assert response[HEADER] == "staus"

    @pytest.mark.parametrize(
        ("method", "path", "fields"),
        [
            ("POST", "/v1/consignments/{c}/tracking", "carrierName, status, trackingNumber"),
            ("PUT", "/v1/consignments/{c}/tracking/{t}", "carrierName, status, trackingNumber"),
            ("POST", "/v1/consignments/{c}/tracking/{t}/event", "status, details, eventDateTime"),
            ("POST", "/v1/consignments", "reference, customerReference, destination"),
        ],
    )
    def test_a_body_with_no_known_property_is_refused(
        self, api, our_key, consignment, leg, method, path, fields
    ):
        before = snapshot()

        response = send(api, method, path.format(c=consignment.pk, t=leg.pk), our_key, {"Satus": 3})

        [message] = assert_v1_error(response, 400, "Validation Failed")
        assert message.startswith(f"Satus is not a field of this request (fields: {fields}")
        assert response[HEADER] == "Satus"
        assert snapshot() == before

    def test_a_body_of_read_only_properties_alone_is_refused(self, api, our_key, consignment, leg):
        before = snapshot()

        response = send(api, "PUT", record(consignment, leg), our_key, {"ID": str(leg.pk)})

        [message] = assert_v1_error(response, 400, "Validation Failed")
        assert message.startswith("ID is read-only and ignored; send one of this request's")
        assert snapshot() == before

    def test_an_empty_record_is_refused_but_an_empty_update_changes_nothing(
        self, api, our_key, consignment, leg
    ):
        before = snapshot()

        created = send(api, "POST", records(consignment), our_key, {})
        updated = send(api, "PUT", record(consignment, leg), our_key, {})

        assert assert_v1_error(created, 400, "Validation Failed") == [
            "The body must name at least one of carrierName, status, trackingNumber and "
            "trackingUrl."
        ]
        assert (updated.status_code, updated.content) == (304, b"")
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                {"status": 1, "Status": 2},
                "status must be sent once, not in several cases (status, Status).",
            ),
            (
                {"carrierName": "A", "CARRIERNAME": "B", "carriername": "C"},
                "carrierName must be sent once, not in several cases "
                "(carrierName, CARRIERNAME, carriername).",
            ),
        ],
    )
    def test_a_property_sent_twice_in_different_cases_is_refused(
        self, api, our_key, consignment, leg, body, message
    ):
        before = snapshot()

        response = send(api, "PUT", record(consignment, leg), our_key, body)

        assert assert_v1_error(response, 400, "Validation Failed") == [message]
        assert snapshot() == before


# -- Sorted: names in any case ------------------------------------------------------------------


def camel_batch(leg, package, event: dict) -> dict:
    return {
        "carrierReference": leg.carrier.code,
        "consignmentTrackingEvents": [
            {
                "consignmentTrackingReference": leg.tracking_number,
                "packageTrackingEvents": [
                    {"packageReference": package.reference, "trackingEvents": [event]}
                ],
            }
        ],
    }


def stored() -> list[tuple]:
    return list(
        TrackingEvent.objects.order_by("occurred_at").values_list(
            "tracking_record_id", "package_id", "occurred_at", "code", "description", "location"
        )
    )


class TestSortedNames:
    def test_a_camel_case_batch_is_stored(self, client, carrier_key, leg, package):
        event = {
            "timeStamp": at(1).isoformat(),
            "code": "DELIVERED",
            "description": "Delivered",
            "signedBy": "J. Doe",
            "location": "Leeds",
        }

        response = post_events(client, camel_batch(leg, package, event), carrier_key)

        assert response.status_code == 200, response.content
        assert HEADER not in response
        assert stored() == [(leg.pk, package.pk, at(1), "DELIVERED", "Delivered", "Leeds")]
        assert TrackingEvent.objects.get().signed_by == "J. Doe"

    def test_a_lower_case_batch_is_stored(self, client, carrier_key, leg, package):
        event = {"timestamp": at(1).isoformat(), "CODE": "IN_TRANSIT", "DESCRIPTION": "Hub"}
        body = json.loads(json.dumps(camel_batch(leg, package, event)).lower())
        body["consignmenttrackingevents"][0]["packagetrackingevents"][0]["packagereference"] = (
            package.reference
        )

        response = post_events(client, body, carrier_key)

        assert response.status_code == 200, response.content
        assert [(e[3], e[4]) for e in stored()] == [("IN_TRANSIT", "hub")]

    def test_unknown_properties_are_ignored_and_named_by_json_path(
        self, client, carrier_key, leg, package
    ):
        body = carrier_batch(leg, package, [tracking_event(1), tracking_event(2, Latitude=53.4)])
        body["Comment"] = "night run"
        body["ConsignmentTrackingEvents"][0]["PackageTrackingEvents"][0]["Weight"] = 2

        response = post_events(client, body, carrier_key)

        assert response.status_code == 200
        assert response[HEADER] == (
            "Comment, ConsignmentTrackingEvents[0].PackageTrackingEvents[0].Weight, "
            "ConsignmentTrackingEvents[0].PackageTrackingEvents[0].TrackingEvents[1].Latitude"
        )
        assert len(stored()) == 2

    def test_a_refused_batch_names_what_it_ignored(self, client, carrier_key, leg, package):
        event = tracking_event(1)
        event["Time"] = event.pop("TimeStamp")

        response = post_events(client, carrier_batch(leg, package, [event]), carrier_key)

        assert_envelope(response, 400, "ValidationFailed")
        assert envelope_details(response) == [("Required", f"{EVENT}.TimeStamp")]
        assert response[HEADER] == f"{EVENT}.Time"

    def test_a_body_with_no_known_property_is_refused(self, client, carrier_key):
        response = post_events(client, {"carrier": "CARRIER_X", "events": []}, carrier_key)

        body = assert_envelope(response, 400, "ValidationFailed")
        assert "CarrierReference and ConsignmentTrackingEvents" in body["Message"]
        assert envelope_details(response) == [
            ("UnknownProperty", "carrier"),
            ("UnknownProperty", "events"),
        ]
        assert response[HEADER] == "carrier, events"

    def test_a_property_sent_twice_in_different_cases_is_refused(
        self, client, carrier_key, leg, package
    ):
        event = {**tracking_event(1), "code": "DELIVERED"}

        response = post_events(client, carrier_batch(leg, package, [event]), carrier_key)

        body = assert_envelope(response, 400, "ValidationFailed")
        assert envelope_details(response) == [("AmbiguousProperty", f"{EVENT}.Code")]
        assert body["Details"][0]["Message"] == (
            "Code must be sent once, not in several cases (Code, code)."
        )
        assert not TrackingEvent.objects.exists()


# -- References in any case ----------------------------------------------------------------------


class TestReferences:
    def test_a_tracking_number_is_found_in_any_case(self, client, brand, carrier, carrier_key):
        consignment = make_consignment(brand, packages=1)
        leg = make_leg(consignment, carrier=carrier, tracking_number="CX0001")
        package = consignment.packages.get()
        body = carrier_batch(leg, package, [tracking_event(1)])
        body["ConsignmentTrackingEvents"][0]["ConsignmentTrackingReference"] = "cx0001"

        response = post_events(client, body, carrier_key)

        assert response.status_code == 200, response.content
        assert TrackingEvent.objects.get().tracking_record_id == leg.pk

    def test_a_stored_lower_case_number_is_found_by_its_upper_case(
        self, client, brand, carrier, carrier_key
    ):
        consignment = make_consignment(brand, packages=1)
        leg = make_leg(consignment, carrier=carrier, tracking_number="jd014600006281")
        body = carrier_batch(leg, consignment.packages.get(), [tracking_event(1)])
        body["ConsignmentTrackingEvents"][0]["ConsignmentTrackingReference"] = "JD014600006281"

        assert post_events(client, body, carrier_key).status_code == 200
        assert TrackingEvent.objects.get().tracking_record_id == leg.pk

    def test_a_number_in_another_case_is_still_refused_for_another_carrier(
        self, client, consignment, other_carrier_key, leg, package
    ):
        body = carrier_batch(leg, package, [tracking_event(1)], carrier_reference="CARRIER_Y")
        body["ConsignmentTrackingEvents"][0]["ConsignmentTrackingReference"] = "trk00009823"

        response = post_events(client, body, other_carrier_key)

        assert_envelope(response, 400, "ValidationFailed")
        assert (
            "UnknownTrackingReference",
            "ConsignmentTrackingEvents[0].ConsignmentTrackingReference",
        ) in (envelope_details(response))

    def test_consignment_references_in_paths_match_in_any_case(self, client, our_key, consignment):
        for path in ["/tracking/ec-aaa-bbb-ccc", "/tracking/flattened/Ec-AaA-bBb-CcC"]:
            response = client.get(path, **our_key.subscription)
            assert response.status_code == 200, path
            assert response.json()["ConsignmentReferenceForAllLegsAssignedByMpd"] == (
                "EC-AAA-BBB-CCC"
            )

    def test_v1_ids_in_paths_match_in_any_case(self, api, our_key, consignment, leg):
        upper = f"/v1/consignments/{str(consignment.pk).upper()}"
        for path in [upper, f"{upper}/tracking", f"{upper}/tracking/{str(leg.pk).upper()}"]:
            assert api.get(path, **our_key.bearer).status_code == 200, path
        event = send(
            api, "POST", f"{upper}/tracking/{str(leg.pk).upper()}/event", our_key, {"status": 3}
        )
        assert event.status_code == 200

    def test_a_package_reference_on_v1_matches_in_any_case(self, api, our_key, consignment, leg):
        package = consignment.packages.order_by("sequence").first()
        body = {"status": 3, "packageReference": package.reference.lower()}

        response = send(api, "POST", f"{record(consignment, leg)}/event", our_key, body)

        assert response.status_code == 200
        assert leg.events.get().package_id == package.pk


# -- The header itself -------------------------------------------------------------------------


class TestHeader:
    def test_names_are_percent_encoded_so_the_header_reads_one_way(self, api, our_key, consignment):
        body = {"carrierName": "A", "a.b": 1, "x,y": 2, "line\nbreak": 3, "Grüße": 4, "": 5}

        response = send(api, "POST", records(consignment), our_key, body)

        assert response.status_code == 200
        assert response[HEADER] == 'a%2Eb, x%2Cy, line%0Abreak, Gr%C3%BC%C3%9Fe, ""'
        assert response[HEADER].isascii()

    def test_a_long_list_is_cut_short_with_an_ellipsis(self, client, carrier_key, leg, package):
        events = [tracking_event(i / 60, Latitude=1, description=f"scan {i}") for i in range(300)]

        response = post_events(client, carrier_batch(leg, package, events), carrier_key)

        assert response.status_code == 200
        header = response[HEADER]
        assert len(header) <= wire.IGNORED_HEADER_MAX
        names = header.split(", ")
        assert names[0] == f"{EVENT}.Latitude"
        assert names[-1] == "..."
        assert len(stored()) == 300

    def test_a_name_too_long_for_the_header_is_counted_as_left_out(self, api, our_key, consignment):
        body = {"carrierName": "A", "x" * 2000: 1}

        response = send(api, "POST", records(consignment), our_key, body)

        assert response[HEADER] == "..."


# -- The status set on a record reads as each API documents it ---------------------------------


def test_a_status_event_has_null_details_in_v1_and_an_empty_description_in_sorted(
    api, our_key, consignment
):
    body = {"carrierName": "Fast Freight Co", "status": 2, "trackingNumber": "FF1"}
    leg_id = send(api, "POST", records(consignment), our_key, body).json()["consignmentTrackingId"]

    v1 = api.get(f"{records(consignment)}/{leg_id}", **our_key.bearer).json()
    sorted_api = api.get(f"/tracking/{consignment.reference}", **our_key.subscription).json()

    [event] = v1["trackingEvents"]
    assert (event["status"], event["details"]) == (2, None)
    [leg] = sorted_api["TrackedPackages"][0]["Legs"]
    assert [e["Description"] for e in leg["Events"]] == [""]


# -- The schema ----------------------------------------------------------------------------------


def test_the_schema_documents_the_leniency_on_every_write(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    writes = [
        ("/v1/consignments", "post", [200, 400]),
        ("/v1/consignments/{consignmentId}/tracking", "post", [200, 400]),
        ("/v1/consignments/{consignmentId}/tracking/{consignmentTrackingId}", "put", [200, 304]),
        (
            "/v1/consignments/{consignmentId}/tracking/{consignmentTrackingId}/event",
            "post",
            [200, 304, 400],
        ),
        ("/tracking/carrierevents", "post", [200, 400]),
        ("/tracking/carrierTrackingEvents", "post", [200, 400]),
    ]
    for path, method, statuses in writes:
        operation = schema["paths"][path][method]
        assert "match in any case" in operation["description"], path
        for status in statuses:
            headers = operation["responses"][str(status)].get("headers", {})
            assert HEADER in headers, (path, status)
            assert not headers[HEADER].get("required"), (path, status)
    for name, component in schema["components"]["schemas"].items():
        if name.startswith("Consignly") and name.endswith("Request"):
            assert component.get("additionalProperties") is not False, name


def test_an_unknown_id_in_a_path_is_still_not_found(api, our_key, consignment):
    response = api.get(f"/v1/consignments/{uuid.uuid4()}", **our_key.bearer)
    assert response.status_code == 404
