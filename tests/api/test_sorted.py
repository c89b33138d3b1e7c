"""The Sorted PRO-compatible reads under /tracking, and what every /tracking answer shares:
keys, the api-version header, the error envelope, query counts and the OpenAPI document."""

import datetime as dt
import json
import re

import pytest
import time_machine
from django.test import Client

from tests.factories import (
    CarrierFactory,
    add_events,
    at,
    make_consignment,
    make_leg,
    rate_limit_queries,
)
from tests.helpers import (
    assert_envelope,
    envelope_details,
    warm,
)
from tracking import access, services
from tracking.models import ApiKey, Consignment, EventSource
from tracking.services import EventSpec

pytestmark = pytest.mark.django_db

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")
EVENT_KEYS = {"TimeStamp", "Code", "Description", "SignedBy", "Location"}


def store(leg, *events, package=None):
    """Events with every field, as (hours, code, description, location, signed_by)."""
    services.record_events(
        events=[
            EventSpec(
                leg=leg,
                occurred_at=at(hours),
                code=code,
                description=description,
                location=location,
                signed_by=signed_by,
                package=package,
            )
            for hours, code, description, location, signed_by in events
        ],
        source=EventSource.SORTED,
    )


# -- GET /tracking/{consignmentReference} ----------------------------------------------------------


class TestGetTrackingEvents:
    def test_it_answers_in_the_published_shape(self, client, our_key, consignment, carrier):
        first, second = consignment.packages.order_by("sequence")
        leg = make_leg(
            consignment,
            carrier=carrier,
            tracking_number="TRK00009823",
            carrier_service_name="Sample Carrier Service A",
        )
        store(leg, (1, "IN_TRANSIT", "At the hub", "Leeds", ""))
        store(
            leg,
            (2, "DELIVERED", "Sample tracking event", "Sample Location", "P. Smith"),
            package=first,
        )

        response = client.get("/tracking/EC-AAA-BBB-CCC", **our_key.subscription)

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        in_transit = {
            "TimeStamp": "2026-03-09T09:00:00.123456+00:00",
            "Code": "IN_TRANSIT",
            "Description": "At the hub",
            "SignedBy": None,
            "Location": "Leeds",
        }
        delivered = {
            "TimeStamp": "2026-03-09T10:00:00.123456+00:00",
            "Code": "DELIVERED",
            "Description": "Sample tracking event",
            "SignedBy": "P. Smith",
            "Location": "Sample Location",
        }
        assert response.json() == {
            "ConsignmentReferenceForAllLegsAssignedByMpd": "EC-AAA-BBB-CCC",
            "TrackedPackages": [
                {
                    "PackageReferenceForAllLegsAssignedByMpd": first.reference,
                    "Legs": [
                        {
                            "CarrierServiceName": "Sample Carrier Service A",
                            "Events": [in_transit, delivered],
                        }
                    ],
                },
                {
                    "PackageReferenceForAllLegsAssignedByMpd": second.reference,
                    "Legs": [
                        {"CarrierServiceName": "Sample Carrier Service A", "Events": [in_transit]}
                    ],
                },
            ],
        }

    def test_timestamps_are_utc_with_an_offset_keeping_microseconds(self, client, our_key, leg):
        moment = dt.datetime(
            2026, 3, 9, 9, 30, 5, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1))
        )
        services.record_events(
            events=[
                EventSpec(leg=leg, occurred_at=moment, code="IN_TRANSIT"),
                EventSpec(leg=leg, occurred_at=at(3), code="OUT_FOR_DELIVERY"),
            ],
            source=EventSource.SORTED,
        )

        body = client.get("/tracking/EC-AAA-BBB-CCC", **our_key.subscription).json()

        stamps = [e["TimeStamp"] for e in body["TrackedPackages"][0]["Legs"][0]["Events"]]
        assert stamps == ["2026-03-09T08:30:05.123456+00:00", "2026-03-09T11:00:00.123456+00:00"]
        assert all(TIMESTAMP.match(stamp) for stamp in stamps)

    def test_empty_texts_are_null_except_description_and_lists_are_empty(
        self, client, our_key, consignment, leg
    ):
        add_events(leg, (1, "IN_TRANSIT"))
        make_leg(consignment, carrier=CarrierFactory(), tracking_number="QUIET1")

        body = client.get("/tracking/EC-AAA-BBB-CCC", **our_key.subscription).json()

        legs = body["TrackedPackages"][0]["Legs"]
        assert legs[0]["Events"][0] | {"TimeStamp": None} == {
            "TimeStamp": None,
            "Code": "IN_TRANSIT",
            "Description": "",
            "SignedBy": None,
            "Location": None,
        }
        assert legs[1]["Events"] == []

    def test_a_package_with_no_leg_has_no_legs(self, client, our_key, consignment):
        body = client.get("/tracking/EC-AAA-BBB-CCC", **our_key.subscription).json()
        assert [p["Legs"] for p in body["TrackedPackages"]] == [[], []]

    def test_leg_wide_events_show_under_every_package_and_package_events_under_theirs(
        self, client, our_key, consignment, leg
    ):
        first, second = consignment.packages.order_by("sequence")
        add_events(leg, (1, "COLLECTED_BY_CARRIER", "Collected"))
        add_events(leg, (2, "DELIVERED", "First delivered"), package=first)
        add_events(leg, (3, "DELIVERY_FAILED", "Second not delivered"), package=second)

        body = client.get("/tracking/EC-AAA-BBB-CCC", **our_key.subscription).json()

        seen = {
            p["PackageReferenceForAllLegsAssignedByMpd"]: [
                e["Description"] for leg_ in p["Legs"] for e in leg_["Events"]
            ]
            for p in body["TrackedPackages"]
        }
        assert seen == {
            first.reference: ["Collected", "First delivered"],
            second.reference: ["Collected", "Second not delivered"],
        }

    def test_a_leg_carrying_one_package_is_not_shown_under_the_other(
        self, client, our_key, consignment, carrier
    ):
        first, second = consignment.packages.order_by("sequence")
        make_leg(consignment, carrier=carrier, tracking_number="BOTH", carrier_service_name="Trunk")
        make_leg(
            consignment,
            carrier=carrier,
            tracking_number="ONLY2",
            carrier_service_name="Courier",
            packages=[second],
        )

        body = client.get("/tracking/EC-AAA-BBB-CCC", **our_key.subscription).json()

        services_by_package = [
            [leg_["CarrierServiceName"] for leg_ in p["Legs"]] for p in body["TrackedPackages"]
        ]
        assert services_by_package == [["Trunk"], ["Trunk", "Courier"]]

    def test_legs_come_in_leg_order_and_events_oldest_first(
        self, client, our_key, consignment, carrier
    ):
        last_mile = make_leg(
            consignment,
            carrier=carrier,
            tracking_number="B",
            carrier_service_name="Last",
            sequence=2,
        )
        first_mile = make_leg(
            consignment,
            carrier=carrier,
            tracking_number="A",
            carrier_service_name="First",
            sequence=1,
        )
        add_events(last_mile, (9, "DELIVERED", "late"), (5, "IN_TRANSIT", "early"))
        add_events(last_mile, (7, "OUT_FOR_DELIVERY", "middle"))
        add_events(first_mile, (1, "COLLECTED_BY_CARRIER", "collected"))

        body = client.get("/tracking/EC-AAA-BBB-CCC", **our_key.subscription).json()

        legs = body["TrackedPackages"][0]["Legs"]
        assert [leg_["CarrierServiceName"] for leg_ in legs] == ["First", "Last"]
        assert [e["Description"] for e in legs[1]["Events"]] == ["early", "middle", "late"]

    def test_the_reference_may_be_typed_in_lower_case(self, client, our_key, consignment):
        response = client.get("/tracking/ec-aaa-bbb-ccc", **our_key.subscription)
        assert response.status_code == 200
        assert response.json()["ConsignmentReferenceForAllLegsAssignedByMpd"] == "EC-AAA-BBB-CCC"

    def test_it_answers_json_whatever_accept_says(self, client, our_key, consignment):
        response = client.get(
            "/tracking/EC-AAA-BBB-CCC", HTTP_ACCEPT="application/xml", **our_key.subscription
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"

    def test_a_missing_consignment_is_not_found(self, client, our_key):
        response = client.get("/tracking/EC-ZZZ-ZZZ-ZZZ", **our_key.subscription)
        body = assert_envelope(response, 404, "ConsignmentNotFound")
        assert body["Message"] == "Consignment EC-ZZZ-ZZZ-ZZZ not found."
        assert body["Details"] == []

    def test_nonsense_references_are_not_found(self, client, our_key):
        for reference in ["flattened", "x" * 500, "EC-AAA-BBB-CCC-DDD"]:
            response = client.get(f"/tracking/{reference}", **our_key.subscription)
            assert_envelope(response, 404, "ConsignmentNotFound")

    def test_another_brands_consignment_is_answered_as_if_missing(
        self, client, our_key, their_key, consignment, leg
    ):
        add_events(leg, (1, "IN_TRANSIT"))
        for path in ["/tracking/EC-AAA-BBB-CCC", "/tracking/flattened/EC-AAA-BBB-CCC"]:
            foreign = client.get(path, **their_key.subscription)
            Consignment.objects.filter(pk=consignment.pk).delete()
            missing = client.get(path, **our_key.subscription)
            consignment = make_consignment(
                consignment.brand, packages=2, reference="EC-AAA-BBB-CCC"
            )

            assert foreign.status_code == missing.status_code == 404
            assert foreign.json() | {"CorrelationId": None} == missing.json() | {
                "CorrelationId": None
            }
            assert foreign.json()["CorrelationId"] != missing.json()["CorrelationId"]
            assert set(foreign.headers) == set(missing.headers)


# -- GET /tracking/flattened/{consignmentReference} ------------------------------------------------


class TestGetEventsPerPackage:
    def test_it_lists_each_packages_events_from_all_legs_oldest_first(
        self, client, our_key, consignment, carrier
    ):
        first, second = consignment.packages.order_by("sequence")
        trunk = make_leg(
            consignment, carrier=carrier, tracking_number="T1", carrier_service_name="Trunk 24"
        )
        courier = make_leg(consignment, carrier=CarrierFactory(name="Swift"), tracking_number="C1")
        store(courier, (5, "DELIVERED", "Delivered", "Porch", "A. Morgan"), package=first)
        store(trunk, (1, "COLLECTED_BY_CARRIER", "Collected", "Depot", ""))
        store(courier, (3, "OUT_FOR_DELIVERY", "With the driver", "", ""))

        response = client.get("/tracking/flattened/EC-AAA-BBB-CCC", **our_key.subscription)

        assert response.status_code == 200
        collected = {
            "TimeStamp": "2026-03-09T09:00:00.123456+00:00",
            "Code": "COLLECTED_BY_CARRIER",
            "Description": "Collected",
            "SignedBy": None,
            "Location": "Depot",
            "CarrierServiceName": "Trunk 24",
        }
        with_driver = {
            "TimeStamp": "2026-03-09T11:00:00.123456+00:00",
            "Code": "OUT_FOR_DELIVERY",
            "Description": "With the driver",
            "SignedBy": None,
            "Location": None,
            "CarrierServiceName": "Swift",
        }
        delivered = {
            "TimeStamp": "2026-03-09T13:00:00.123456+00:00",
            "Code": "DELIVERED",
            "Description": "Delivered",
            "SignedBy": "A. Morgan",
            "Location": "Porch",
            "CarrierServiceName": "Swift",
        }
        assert response.json() == {
            "ConsignmentReferenceForAllLegsAssignedByMpd": "EC-AAA-BBB-CCC",
            "TrackedPackages": [
                {
                    "PackageReferenceForAllLegsAssignedByMpd": first.reference,
                    "Events": [collected, with_driver, delivered],
                },
                {
                    "PackageReferenceForAllLegsAssignedByMpd": second.reference,
                    "Events": [collected, with_driver],
                },
            ],
        }

    def test_a_leg_with_no_carrier_name_has_a_null_service_name(self, client, our_key, consignment):
        unnamed = services.add_leg(
            consignment=consignment, source=EventSource.ADMIN, tracking_number="N1"
        )
        add_events(unnamed, (1, "IN_TRANSIT"))

        body = client.get("/tracking/flattened/EC-AAA-BBB-CCC", **our_key.subscription).json()

        assert body["TrackedPackages"][0]["Events"][0]["CarrierServiceName"] is None

    def test_a_package_without_events_has_an_empty_list(self, client, our_key, consignment):
        body = client.get("/tracking/flattened/EC-AAA-BBB-CCC", **our_key.subscription).json()
        assert [p["Events"] for p in body["TrackedPackages"]] == [[], []]


# -- Keys, roles and the api-version header --------------------------------------------------------

READS = ["/tracking/EC-AAA-BBB-CCC", "/tracking/flattened/EC-AAA-BBB-CCC"]


class TestKeys:
    @pytest.mark.parametrize("path", READS)
    def test_no_key_is_unauthorized(self, client, consignment, path):
        body = assert_envelope(client.get(path), 401, "Unauthorized")
        assert "key" in body["Message"]

    @pytest.mark.parametrize("path", READS)
    def test_a_wrong_key_is_unauthorized(self, client, consignment, path):
        response = client.get(path, HTTP_OCP_APIM_SUBSCRIPTION_KEY="tpk_not-a-key")
        assert_envelope(response, 401, "Unauthorized")
        assert response["WWW-Authenticate"] == 'ApiKey header="ocp-apim-subscription-key"'

    @pytest.mark.parametrize("path", READS)
    def test_a_bearer_key_works_too(self, client, our_key, consignment, path):
        assert client.get(path, **our_key.bearer).status_code == 200

    @pytest.mark.parametrize("path", READS)
    def test_the_key_may_come_as_azures_subscription_key_query_parameter(
        self, client, our_key, consignment, path
    ):
        assert client.get(f"{path}?subscription-key={our_key.secret}").status_code == 200
        wrong = client.get(f"{path}?subscription-key=tpk_not-a-key")
        assert_envelope(wrong, 401, "Unauthorized")

    def test_a_key_in_the_header_is_the_one_that_counts(self, client, our_key, consignment):
        # A wrong header key is refused even beside a right one in the query string.
        response = client.get(
            f"{READS[0]}?subscription-key={our_key.secret}",
            HTTP_OCP_APIM_SUBSCRIPTION_KEY="tpk_not-a-key",
        )
        assert_envelope(response, 401, "Unauthorized")

    def test_an_inactive_key_is_unauthorized(self, client, our_key, consignment):
        ApiKey.objects.filter(pk=our_key.key.pk).update(active=False)
        response = client.get(READS[0], **our_key.subscription)
        assert_envelope(response, 401, "Unauthorized")

    @pytest.mark.parametrize("path", READS)
    def test_a_carrier_key_may_not_read(self, client, carrier_key, consignment, path):
        body = assert_envelope(client.get(path, **carrier_key.subscription), 403, "Forbidden")
        assert "client key" in body["Message"]

    @pytest.mark.parametrize("path", READS)
    def test_the_api_version_may_be_1_1_or_absent(self, client, our_key, consignment, path):
        response = client.get(path, HTTP_ELECTIO_API_VERSION="1.1", **our_key.subscription)
        assert response.status_code == 200

    @pytest.mark.parametrize("version", ["1", "2.0", "1.10", ""])
    def test_another_api_version_is_refused(self, client, our_key, consignment, version):
        response = client.get(READS[0], HTTP_ELECTIO_API_VERSION=version, **our_key.subscription)
        body = assert_envelope(response, 400, "UnsupportedApiVersion")
        assert envelope_details(response) == [("UnsupportedApiVersion", "electio-api-version")]
        assert "1.1" in body["Message"]

    def test_over_the_key_allowance_is_too_many_requests(
        self, client, settings, our_key, consignment
    ):
        settings.RATE_LIMIT_API = "2/m"
        # Frozen 20 s before a minute ends, so the limiter's window cannot roll over mid-test.
        with time_machine.travel(dt.datetime(2026, 11, 23, 12, 0, 40, tzinfo=dt.UTC), tick=False):
            for _ in range(2):
                assert client.get(READS[0], **our_key.subscription).status_code == 200

            response = client.get(READS[0], **our_key.subscription)

        assert_envelope(response, 429, "TooManyRequests")
        assert response["Retry-After"] == "20"


# -- The envelope for everything else --------------------------------------------------------------


class TestErrors:
    @pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
    def test_reads_allow_only_get_and_head(self, client, our_key, consignment, method):
        response = getattr(client, method)(READS[0], **our_key.subscription)
        body = assert_envelope(response, 405, "MethodNotAllowed")
        assert response["Allow"] == "GET, HEAD"
        assert method.upper() in body["Message"]

    def test_head_answers_like_get_without_a_body(self, client, our_key, consignment):
        response = client.head(READS[0], **our_key.subscription)
        assert response.status_code == 200
        assert response.content == b""

    @pytest.mark.parametrize("method", ["get", "put", "delete"])
    def test_carrier_events_allow_only_post_whoever_asks(self, client, method):
        response = getattr(client, method)("/tracking/carrierevents")
        assert_envelope(response, 405, "MethodNotAllowed")
        assert response["Allow"] == "POST"

    @pytest.mark.parametrize("path", ["/tracking/", "/tracking/a/b", "/tracking/EC-AAA-BBB-CCC/"])
    def test_unknown_paths_are_not_found_in_the_envelope(self, client, our_key, path):
        assert_envelope(client.get(path, **our_key.subscription), 404, "NotFound")

    def test_a_server_error_is_answered_in_the_envelope(self, our_key, consignment, monkeypatch):
        def broken(key, **where):
            raise RuntimeError("a bug")

        monkeypatch.setattr(access, "timeline_for_key", broken)
        client = Client(raise_request_exception=False)

        response = client.get(READS[0], **our_key.subscription)

        assert_envelope(response, 500, "ServerError")
        assert "a bug" not in response.content.decode()

    def test_each_error_has_its_own_correlation_id(self, client):
        first, second = client.get(READS[0]).json(), client.get(READS[0]).json()
        assert first["CorrelationId"] != second["CorrelationId"]


# -- Query counts -------------------------------------------------------------------------------


def build(consignment, *, legs: int, events_per_package: int) -> None:
    packages = list(consignment.packages.all())
    for n in range(legs):
        leg = make_leg(consignment, carrier=CarrierFactory(), tracking_number=f"Q{n}")
        add_events(leg, *[(hours, "IN_TRANSIT", f"leg-wide {hours}") for hours in range(3)])
        for package in packages:
            steps = [(hours, "IN_TRANSIT", f"own {hours}") for hours in range(events_per_package)]
            add_events(leg, *steps, package=package)


class TestQueryCounts:
    # Authentication 1 (the key), the throttle's counter upsert 1 (none with Redis), the
    # Timeline 2 (consignment with brand and packages; legs with events).
    QUERIES = 3

    @pytest.mark.parametrize("path", ["/tracking/{}", "/tracking/flattened/{}"])
    @pytest.mark.parametrize(
        ("packages", "legs", "events_per_package"), [(1, 1, 1), (6, 4, 25)], ids=["small", "big"]
    )
    def test_reads_take_a_fixed_number_of_queries(
        self,
        client,
        our_key,
        brand,
        django_assert_num_queries,
        path,
        packages,
        legs,
        events_per_package,
    ):
        consignment = make_consignment(brand, packages=packages)
        build(consignment, legs=legs, events_per_package=events_per_package)
        warm(our_key)

        with django_assert_num_queries(self.QUERIES + rate_limit_queries()):
            response = client.get(path.format(consignment.reference), **our_key.subscription)

        assert response.status_code == 200
        events = (
            [
                e
                for p in response.json()["TrackedPackages"]
                for leg_ in p["Legs"]
                for e in leg_["Events"]
            ]
            if "flattened" not in path
            else [e for p in response.json()["TrackedPackages"] for e in p["Events"]]
        )
        assert len(events) == packages * legs * (3 + events_per_package)


# -- The OpenAPI document ----------------------------------------------------------------------


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def conforms(schema, node, value) -> None:
    """The value has exactly the documented keys, all present, at every depth."""
    node = resolve(schema, node)
    if value is None:
        assert node.get("nullable"), node
    elif node.get("type") == "object":
        assert set(value) == set(node["properties"]) == set(node["required"])
        for name, child in node["properties"].items():
            conforms(schema, child, value[name])
    elif node.get("type") == "array":
        for item in value:
            conforms(schema, node["items"], item)


# What each read's documented answers promise in their headers.
DOCUMENTED_HEADERS = {
    "200": set(),
    "404": {"X-Correlation-ID"},
    "401": {"X-Correlation-ID", "WWW-Authenticate"},
}


class TestSchema:
    OPERATIONS = {
        ("/tracking/{consignmentReference}", "get"): "GetTrackingEvents",
        ("/tracking/flattened/{consignmentReference}", "get"): "GetEventsPerPackage",
        ("/tracking/carrierevents", "post"): "PostTrackingEvents",
        ("/tracking/carrierTrackingEvents", "post"): "PostTrackingEventsSdkPath",
    }

    def test_it_documents_every_operation_with_its_errors(self, schema):
        for (path, method), operation_id in self.OPERATIONS.items():
            operation = schema["paths"][path][method]
            assert operation["operationId"] == operation_id
            assert operation["tags"] == ["Sorted PRO tracking (/tracking)"]
            assert operation["security"] == [{"subscriptionKey": []}, {"subscriptionKeyQuery": []}]
            assert {"400", "401", "403", "405", "429"} <= set(operation["responses"])
            version = next(p for p in operation["parameters"] if p["name"] == "electio-api-version")
            assert version["in"] == "header" and version["schema"]["enum"] == ["1.1"]
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/SortedApiError"}
            assert "Retry-After" in operation["responses"]["429"]["headers"]

    def test_the_batch_body_lists_its_required_fields(self, schema):
        operation = schema["paths"]["/tracking/carrierevents"]["post"]
        body = resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"])
        assert operation["requestBody"]["required"] is True
        assert set(body["required"]) == {"CarrierReference", "ConsignmentTrackingEvents"}
        consignments = resolve(schema, body["properties"]["ConsignmentTrackingEvents"]["items"])
        packages = resolve(schema, consignments["properties"]["PackageTrackingEvents"]["items"])
        events = resolve(schema, packages["properties"]["TrackingEvents"]["items"])
        assert set(consignments["required"]) == {
            "ConsignmentTrackingReference",
            "PackageTrackingEvents",
        }
        assert set(packages["required"]) == {"PackageReference", "TrackingEvents"}
        assert set(events["required"]) == {"TimeStamp", "Code", "Description"}
        assert set(events["properties"]) == EVENT_KEYS
        assert set(operation["responses"]) >= {"200", "413", "415"}
        assert "content" not in operation["responses"]["200"]

    def test_real_answers_match_the_documented_shapes(
        self, client, schema, our_key, consignment, leg
    ):
        store(leg, (1, "DELIVERED", "Delivered", "Porch", "A. Morgan"))
        add_events(leg, (2, "FOR_INFORMATION"), package=consignment.packages.first())
        for path, operation_path in [
            ("/tracking/EC-AAA-BBB-CCC", "/tracking/{consignmentReference}"),
            ("/tracking/flattened/EC-AAA-BBB-CCC", "/tracking/flattened/{consignmentReference}"),
        ]:
            responses = schema["paths"][operation_path]["get"]["responses"]
            for status, response in [
                ("200", client.get(path, **our_key.subscription)),
                ("404", client.get(path.replace("AAA", "ZZZ"), **our_key.subscription)),
                ("401", client.get(path)),
            ]:
                assert str(response.status_code) == status
                content = responses[status]["content"]["application/json"]["schema"]
                conforms(schema, content, response.json())
                headers = responses[status].get("headers", {})
                assert set(headers) == DOCUMENTED_HEADERS[status], status
                for header, spec in headers.items():
                    assert spec["required"] is True, (status, header)
                    assert response[header], (status, header)
                if "X-Correlation-ID" in headers:
                    assert response["X-Correlation-ID"] == response.json()["CorrelationId"]
