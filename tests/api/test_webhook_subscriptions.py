"""Webhook subscriptions under /v1 (design section 7.3), driven through HTTP and checked in the
database: create, list, test and delete, each scoped to the key's brand."""

import base64
import datetime as dt
import json
import secrets
import uuid

import pytest
import time_machine
from django.test import override_settings
from rest_framework.test import APIClient

from tests.factories import at, rate_limit_queries
from tests.helpers import assert_v1_error, warm
from tracking import fields, services
from tracking.models import (
    SUBSCRIBABLE_TYPES,
    MessageState,
    WebhookMessage,
    WebhookSubscription,
    WebhookType,
)

pytestmark = pytest.mark.django_db

CREATE = "/v1/webhook-subscriptions/create"
LIST = "/v1/webhook-subscriptions"
HOOK = "http://127.0.0.1:9/hooks/tracking"  # tests allow private addresses (allow_private)
PUBLIC_HOOK = "https://93.184.215.14/hooks/tracking"  # an address literal: no DNS involved
ALL_TYPES = ["consignment.created", "tracking.updated", "consignment.status_changed"]
EVENT_TYPE_REFUSAL = (
    "eventType is not supported; send eventTypes, a list of: consignment.created, "
    "tracking.updated, consignment.status_changed."
)
ITEM_KEYS = {
    "webhookSubscriptionId",
    "webhookUrl",
    "eventTypes",
    "active",
    "disabledReason",
    "createdUtc",
}
CLIENT_KEY_NEEDED = ["This endpoint needs a client key (one issued for a brand)."]


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture(autouse=True)
def allow_private(settings):
    # As in development: the receiver of a test runs on 127.0.0.1. The refusal of private
    # addresses is tested with it turned off.
    settings.WEBHOOK_ALLOW_PRIVATE = True


def subscribe(brand, url=HOOK, **fields) -> tuple[WebhookSubscription, str]:
    """A subscription made through the service, as the back office would."""
    return services.create_subscription(brand=brand, url=url, **fields)


def own_secret(size: int = 32) -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(size)).decode()


def send(api, method, path, credential=None, body=None, *, raw=None):
    headers = credential.bearer if credential else {}
    data = raw if raw is not None else ("" if body is None else json.dumps(body))
    return api.generic(method, path, data=data, content_type="application/json", **headers)


def to_test(subscription_id) -> str:
    return f"/v1/webhook-subscriptions/{subscription_id}/test"


def to_delete(subscription_id) -> str:
    return f"/v1/webhook-subscriptions/{subscription_id}/delete"


# -- Create ----------------------------------------------------------------------------------


class TestCreate:
    def test_it_subscribes_the_keys_brand_to_every_type_by_default(self, api, our_key, brand):
        response = send(api, "POST", CREATE, our_key, {"webhookUrl": HOOK})

        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"webhookSubscriptionId", "signingSecret"}
        subscription = WebhookSubscription.objects.get(pk=uuid.UUID(body["webhookSubscriptionId"]))
        assert (subscription.brand, subscription.url, subscription.active) == (brand, HOOK, True)
        assert all(subscription.wants(t) for t in SUBSCRIBABLE_TYPES)
        assert body["signingSecret"] == subscription.secret
        assert fields.check_webhook_secret(body["signingSecret"]) is None
        assert "X-Ignored-Properties" not in response

    def test_it_subscribes_to_the_types_given_in_a_fixed_order(self, api, our_key):
        types = ["consignment.status_changed", "tracking.updated", "tracking.updated"]

        response = send(api, "POST", CREATE, our_key, {"webhookUrl": HOOK, "eventTypes": types})

        assert response.status_code == 200, response.content
        subscription = WebhookSubscription.objects.get()
        assert subscription.event_types == ["tracking.updated", "consignment.status_changed"]
        assert not subscription.wants(WebhookType.CONSIGNMENT_CREATED)

    def test_it_keeps_a_signing_secret_the_client_brings(self, api, our_key):
        secret = own_secret()

        response = send(api, "POST", CREATE, our_key, {"webhookUrl": HOOK, "signingKey1": secret})

        assert response.status_code == 200, response.content
        assert response.json()["signingSecret"] == secret
        assert WebhookSubscription.objects.get().secret == secret

    def test_null_types_and_secret_are_the_defaults(self, api, our_key):
        body = {"webhookUrl": HOOK, "eventTypes": None, "signingKey1": None}

        response = send(api, "POST", CREATE, our_key, body)

        assert response.status_code == 200, response.content
        subscription = WebhookSubscription.objects.get()
        assert subscription.event_types == []
        assert response.json()["signingSecret"] == subscription.secret

    def test_names_match_in_any_case(self, api, our_key):
        body = {"WebhookUrl": HOOK, "EVENTTYPES": ["tracking.updated"]}

        response = send(api, "POST", CREATE, our_key, body)

        assert response.status_code == 200, response.content
        assert WebhookSubscription.objects.get().event_types == ["tracking.updated"]

    def test_a_public_address_is_accepted_with_private_ones_refused(self, api, our_key):
        with override_settings(WEBHOOK_ALLOW_PRIVATE=False):
            response = send(api, "POST", CREATE, our_key, {"webhookUrl": PUBLIC_HOOK})

        assert response.status_code == 200, response.content
        assert WebhookSubscription.objects.get().url == PUBLIC_HOOK

    @pytest.mark.parametrize(
        ("url", "address"),
        [
            ("http://127.0.0.1:8000/hooks", "127.0.0.1"),
            ("https://10.1.2.3/hooks", "10.1.2.3"),
            ("http://192.168.0.10/", "192.168.0.10"),
            ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
            ("http://[::1]/hooks", "::1"),
            ("http://localhost/hooks", None),  # whichever loopback address it resolves to
        ],
    )
    def test_a_private_address_is_refused_unless_allowed(self, api, our_key, url, address):
        with override_settings(WEBHOOK_ALLOW_PRIVATE=False):
            response = send(api, "POST", CREATE, our_key, {"webhookUrl": url})

        [message] = assert_v1_error(response, 400, "Validation Failed")
        assert message.startswith(
            "webhookUrl must not point at a loopback, private or link-local address (it "
            "resolves to "
        )
        if address:
            assert message.endswith(f"resolves to {address}).")
        assert not WebhookSubscription.objects.exists()

    @pytest.mark.parametrize(
        ("url", "rule"),
        [
            ("ftp://example.com/hooks", "must be an http:// or https:// URL."),
            ("", "must be an http:// or https:// URL."),
            ("http://[", "must be an http:// or https:// URL."),  # once a server error
            ("http://a]b/", "must be an http:// or https:// URL."),
            ("http://user:secret@127.0.0.1/", "must be an http:// or https:// URL."),
            ("http://127.0.0.1:99999/", "must be an http:// or https:// URL."),
            ("http://exa mple.com/", "must be an http:// or https:// URL."),
            ("http://" + "a" * 2000, "must be at most 2000 characters."),
            ("http://unresolvable.invalid/", "must name a host that resolves."),
            (None, "must not be null."),
            (5, "must be a string."),
        ],
    )
    def test_a_url_that_cannot_be_delivered_to_is_refused(self, api, our_key, url, rule):
        response = send(api, "POST", CREATE, our_key, {"webhookUrl": url})

        assert assert_v1_error(response, 400, "Validation Failed") == [f"webhookUrl {rule}"]
        assert not WebhookSubscription.objects.exists()

    def test_a_body_without_a_url_is_refused(self, api, our_key):
        for body in [None, {}, {"eventTypes": ["tracking.updated"]}]:
            response = send(api, "POST", CREATE, our_key, body)

            assert assert_v1_error(response, 400, "Validation Failed") == [
                "webhookUrl is required."
            ]
        assert not WebhookSubscription.objects.exists()

    @pytest.mark.parametrize(
        "secret",
        [
            "abc",
            "whsec_",
            own_secret(16),  # too few bytes
            own_secret(65),  # too many
            "whsec_not base64!",
            own_secret()[6:],  # the prefix left out
        ],
    )
    def test_a_malformed_signing_secret_is_refused(self, api, our_key, secret):
        response = send(api, "POST", CREATE, our_key, {"webhookUrl": HOOK, "signingKey1": secret})

        assert assert_v1_error(response, 400, "Validation Failed") == [
            "signingKey1 must be whsec_ followed by the base64 of 24 to 64 random bytes."
        ]
        assert not WebhookSubscription.objects.exists()

    def test_a_signing_secret_must_be_a_string_of_a_bounded_length(self, api, our_key):
        for secret, rule in [
            (123, "must be a string"),
            ("w" * 101, "must be at most 100 characters"),
        ]:
            body = {"webhookUrl": HOOK, "signingKey1": secret}

            response = send(api, "POST", CREATE, our_key, body)

            assert assert_v1_error(response, 400, "Validation Failed") == [f"signingKey1 {rule}."]

    @pytest.mark.parametrize("name", ["eventType", "EventType"])
    @pytest.mark.parametrize("value", [101, 0, None, "consignment.created", [101]])
    def test_consignlys_integer_event_type_is_refused_pointing_to_event_types(
        self, api, our_key, name, value
    ):
        response = send(api, "POST", CREATE, our_key, {"webhookUrl": HOOK, name: value})

        assert assert_v1_error(response, 400, "Validation Failed") == [EVENT_TYPE_REFUSAL]
        assert not WebhookSubscription.objects.exists()

    def test_event_type_is_refused_beside_event_types_too(self, api, our_key):
        body = {"webhookUrl": HOOK, "eventType": 101, "eventTypes": ["tracking.updated"]}

        response = send(api, "POST", CREATE, our_key, body)

        assert assert_v1_error(response, 400, "Validation Failed") == [EVENT_TYPE_REFUSAL]

    @pytest.mark.parametrize(
        ("event_types", "message"),
        [
            (
                ["tracking.updated", "parcel.lost"],
                "eventTypes 'parcel.lost' is not an event type; use consignment.created, "
                "tracking.updated, consignment.status_changed.",
            ),
            (
                ["webhook.test"],  # sent whenever asked for, never subscribed to
                "eventTypes 'webhook.test' is not an event type; use consignment.created, "
                "tracking.updated, consignment.status_changed.",
            ),
            (
                [],
                "eventTypes must list at least one event type (leave eventTypes out for all of "
                "them).",
            ),
            ("tracking.updated", "eventTypes must be a list."),
            ([101], "eventTypes[0] must be a string."),
            (["tracking.updated", ""], "eventTypes[1] must not be blank."),
            (["tracking.updated"] * 101, "eventTypes must list at most 100 event types."),
        ],
    )
    def test_event_types_must_name_known_types(self, api, our_key, event_types, message):
        body = {"webhookUrl": HOOK, "eventTypes": event_types}

        response = send(api, "POST", CREATE, our_key, body)

        assert assert_v1_error(response, 400, "Validation Failed") == [message]
        assert not WebhookSubscription.objects.exists()

    def test_consignlys_other_properties_are_ignored_and_named(self, api, our_key):
        body = {
            "webhookUrl": HOOK,
            "signingKey2": own_secret(),
            "clientPartnerId": 12,
            "carrierPartnerId": 34,
        }

        response = send(api, "POST", CREATE, our_key, body)

        assert response.status_code == 200, response.content
        assert response["X-Ignored-Properties"] == "signingKey2, clientPartnerId, carrierPartnerId"
        assert WebhookSubscription.objects.get().secret == response.json()["signingSecret"]

    def test_a_body_of_unknown_properties_only_is_refused(self, api, our_key):
        response = send(api, "POST", CREATE, our_key, {"url": HOOK})

        [message] = assert_v1_error(response, 400, "Validation Failed")
        assert message.startswith("url is not a field of this request (fields: webhookUrl, ")
        assert response["X-Ignored-Properties"] == "url"

    @pytest.mark.parametrize("raw", ["{", "[]", '"https://example.com/"', "null"])
    def test_a_body_that_is_not_a_json_object_is_refused(self, api, our_key, raw):
        response = send(api, "POST", CREATE, our_key, raw=raw)

        assert_v1_error(response, 400, "Validation Failed")
        assert not WebhookSubscription.objects.exists()

    def test_it_takes_a_fixed_number_of_queries(self, api, our_key, django_assert_num_queries):
        warm(our_key)
        # the key, the rate limit, then the insert (in its savepoint)
        with django_assert_num_queries(1 + rate_limit_queries() + 3):
            response = send(api, "POST", CREATE, our_key, {"webhookUrl": HOOK})

        assert response.status_code == 200


# -- List ------------------------------------------------------------------------------------


class TestList:
    def test_it_pages_the_brands_subscriptions_oldest_first_and_never_their_secrets(
        self, api, our_key, brand, other_brand
    ):
        made = []
        for hours, url in [(2, HOOK + "/b"), (1, HOOK + "/a"), (3, HOOK + "/c")]:
            with time_machine.travel(at(hours), tick=False):
                made.append(subscribe(brand, url))
        theirs, their_secret = subscribe(other_brand, HOOK + "/theirs")

        first = api.get(LIST, {"PageSize": 2}, **our_key.bearer)
        second = api.get(LIST, {"pageindex": 2, "pagesize": 2}, **our_key.bearer)

        assert first.status_code == second.status_code == 200
        page1, page2 = first.json(), second.json()
        assert (page1["index"], page1["total"], page2["index"], page2["total"]) == (1, 3, 2, 3)
        items = page1["webhookSubscriptions"] + page2["webhookSubscriptions"]
        assert [i["webhookUrl"] for i in items] == [HOOK + "/a", HOOK + "/b", HOOK + "/c"]
        assert all(set(item) == ITEM_KEYS for item in items)
        assert items[0]["createdUtc"] == f"{at(1):%Y-%m-%dT%H:%M:%SZ}"
        content = first.content + second.content
        for subscription, secret in [*made, (theirs, their_secret)]:
            assert secret.encode() not in content
            assert subscription.secret.encode() not in content
        assert str(theirs.pk).encode() not in content

    def test_an_item_shows_the_effective_types_and_why_it_was_disabled(self, api, our_key, brand):
        with time_machine.travel(at(1), tick=False):
            everything, _ = subscribe(brand)
        with time_machine.travel(at(2), tick=False):
            some, _ = subscribe(brand, event_types=["consignment.status_changed"])
        services.disable_subscription(some, reason="410 Gone from the endpoint")

        response = api.get(LIST, **our_key.bearer)

        assert response.status_code == 200
        first, second = response.json()["webhookSubscriptions"]
        assert first == {
            "webhookSubscriptionId": str(everything.pk),
            "webhookUrl": HOOK,
            "eventTypes": ALL_TYPES,
            "active": True,
            "disabledReason": None,
            "createdUtc": f"{at(1):%Y-%m-%dT%H:%M:%SZ}",
        }
        assert second["eventTypes"] == ["consignment.status_changed"]
        assert (second["active"], second["disabledReason"]) == (
            False,
            "410 Gone from the endpoint",
        )

    def test_a_brand_without_subscriptions_gets_an_empty_page(self, api, our_key, other_brand):
        subscribe(other_brand)

        response = api.get(LIST, **our_key.bearer)

        assert response.json() == {"index": 1, "total": 0, "webhookSubscriptions": []}

    def test_past_the_last_page_is_empty_with_the_total(self, api, our_key, brand):
        subscribe(brand)

        response = api.get(LIST, {"PageIndex": 5}, **our_key.bearer)

        assert response.json() == {"index": 5, "total": 1, "webhookSubscriptions": []}

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ({"PageSize": 0}, "PageSize must be between 1 and 500."),
            ({"PageSize": 501}, "PageSize must be between 1 and 500."),
            ({"PageIndex": "two"}, "PageIndex must be an integer."),
        ],
    )
    def test_bad_paging_is_refused(self, api, our_key, query, message):
        response = api.get(LIST, query, **our_key.bearer)

        assert assert_v1_error(response, 400, "Validation Failed") == [message]

    def test_it_takes_a_fixed_number_of_queries(
        self, api, our_key, brand, django_assert_num_queries
    ):
        counts = []
        for more in (1, 5):
            for _ in range(more):
                subscribe(brand)
            warm(our_key)
            with django_assert_num_queries(1 + rate_limit_queries() + 2) as captured:  # count, page
                response = api.get(LIST, **our_key.bearer)
            assert response.status_code == 200
            counts.append(len(captured.captured_queries))
        assert counts[0] == counts[1]


# -- Test delivery ---------------------------------------------------------------------------


class TestSendTest:
    def test_it_records_a_test_delivery_for_the_subscription(self, api, our_key, brand):
        subscription, _ = subscribe(brand, event_types=["tracking.updated"])

        response = send(api, "PUT", to_test(subscription.pk), our_key)

        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"deliveryId"}
        message = WebhookMessage.objects.get(pk=body["deliveryId"])
        assert body["deliveryId"].startswith("msg_")
        assert (message.subscription, message.type) == (subscription, WebhookType.TEST)
        assert message.state == MessageState.PENDING
        assert json.loads(message.body)["type"] == "webhook.test"

    def test_each_test_is_its_own_delivery(self, api, our_key, brand):
        subscription, _ = subscribe(brand)

        ids = {send(api, "PUT", to_test(subscription.pk), our_key).json()["deliveryId"]}
        ids.add(send(api, "PUT", to_test(subscription.pk), our_key).json()["deliveryId"])

        assert len(ids) == 2
        assert set(subscription.messages.values_list("pk", flat=True)) == ids

    def test_a_disabled_subscriptions_test_is_held(self, api, our_key, brand):
        subscription, _ = subscribe(brand)
        services.disable_subscription(subscription, reason="staff")

        response = send(api, "PUT", to_test(subscription.pk), our_key)

        assert response.status_code == 200, response.content
        assert WebhookMessage.objects.get(pk=response.json()["deliveryId"]).state == (
            MessageState.HELD
        )

    def test_a_body_sent_along_is_not_read(self, api, our_key, brand):
        subscription, _ = subscribe(brand)

        response = send(api, "PUT", to_test(subscription.pk), our_key, raw="{not json")

        assert response.status_code == 200, response.content
        assert "X-Ignored-Properties" not in response

    def test_it_takes_a_fixed_number_of_queries(
        self, api, our_key, brand, django_assert_num_queries
    ):
        subscription, _ = subscribe(brand)
        warm(our_key)
        # the key, the rate limit, the subscription, then in its savepoint the subscription
        # locked (a delete meanwhile is a 404) and the insert
        with django_assert_num_queries(1 + rate_limit_queries() + 5):
            response = send(api, "PUT", to_test(subscription.pk), our_key)

        assert response.status_code == 200


# -- Delete ----------------------------------------------------------------------------------


class TestDelete:
    def test_it_deletes_the_subscription_and_its_deliveries(self, api, our_key, brand):
        subscription, _ = subscribe(brand)
        kept, _ = subscribe(brand)
        services.send_test(subscription)
        services.send_test(kept)

        response = send(api, "DELETE", to_delete(subscription.pk), our_key)

        assert response.status_code == 200, response.content
        assert response.content == b""
        assert list(WebhookSubscription.objects.all()) == [kept]
        assert list(WebhookMessage.objects.values_list("subscription", flat=True)) == [kept.pk]

    def test_a_deleted_subscription_is_gone(self, api, our_key, brand):
        subscription, _ = subscribe(brand)
        send(api, "DELETE", to_delete(subscription.pk), our_key)

        again = send(api, "DELETE", to_delete(subscription.pk), our_key)
        test = send(api, "PUT", to_test(subscription.pk), our_key)

        assert_v1_error(again, 404, "Not Found")
        assert_v1_error(test, 404, "Not Found")
        assert api.get(LIST, **our_key.bearer).json()["total"] == 0


# -- Who may ---------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", LIST, None),
    ("POST", CREATE, {"webhookUrl": HOOK}),
    ("PUT", to_test("{s}"), None),
    ("DELETE", to_delete("{s}"), None),
]
SCOPED = [e for e in ENDPOINTS if "{s}" in e[1]]


def endpoint_id(endpoint) -> str:
    return f"{endpoint[0]} {endpoint[1]}"


def snapshot() -> tuple:
    return (
        list(WebhookSubscription.objects.order_by("id").values_list("id", "active")),
        WebhookMessage.objects.count(),
    )


class TestAccess:
    @pytest.mark.parametrize("endpoint", SCOPED, ids=endpoint_id)
    def test_another_brands_subscription_is_not_found_like_a_missing_one(
        self, api, our_key, other_brand, endpoint
    ):
        method, path, body = endpoint
        theirs, _ = subscribe(other_brand)
        before = snapshot()

        foreign = send(api, method, path.format(s=theirs.pk), our_key, body)
        missing = send(api, method, path.format(s=uuid.uuid4()), our_key, body)

        assert assert_v1_error(foreign, 404, "Not Found") == ["Webhook subscription not found."]
        assert foreign.json() == missing.json()
        assert snapshot() == before

    @pytest.mark.parametrize("endpoint", SCOPED, ids=endpoint_id)
    @pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "EC-AAA-BBB-CCC", "%00", "create"])
    def test_a_malformed_id_is_not_found(self, api, our_key, brand, endpoint, bad_id):
        method, path, body = endpoint
        subscribe(brand)
        before = snapshot()

        response = send(api, method, path.format(s=bad_id), our_key, body)

        assert_v1_error(response, 404, "Not Found")
        assert snapshot() == before

    @pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
    def test_a_carrier_key_is_forbidden(self, api, carrier_key, brand, endpoint):
        method, path, body = endpoint
        subscription, _ = subscribe(brand)
        before = snapshot()

        response = send(api, method, path.format(s=subscription.pk), carrier_key, body)

        assert assert_v1_error(response, 403, "Forbidden") == CLIENT_KEY_NEEDED
        assert snapshot() == before

    @pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
    def test_a_request_without_a_key_is_unauthorized(self, api, brand, endpoint):
        method, path, body = endpoint
        subscription, _ = subscribe(brand)
        before = snapshot()

        response = send(api, method, path.format(s=subscription.pk), None, body)

        assert assert_v1_error(response, 401, "Unauthorized") == ["An API key is required."]
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", LIST),
            ("GET", CREATE),
            ("GET", to_test("{s}")),
            ("POST", to_delete("{s}")),
        ],
    )
    def test_other_methods_are_not_allowed(self, api, our_key, brand, method, path):
        subscription, _ = subscribe(brand)

        response = send(api, method, path.format(s=subscription.pk), our_key)

        assert_v1_error(response, 405, "Method Not Allowed")
        assert WebhookSubscription.objects.count() == 1

    def test_an_item_path_is_not_a_resource(self, api, our_key, brand):
        subscription, _ = subscribe(brand)

        response = api.get(f"{LIST}/{subscription.pk}", **our_key.bearer)

        assert_v1_error(response, 404, "Not Found")


# -- The OpenAPI document --------------------------------------------------------------------


def test_the_schema_documents_the_subscriptions(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]

    create = paths[CREATE]["post"]
    assert "match in any case" in create["description"]
    for status in ("200", "400"):
        assert "X-Ignored-Properties" in create["responses"][status].get("headers", {})
    request = schema["components"]["schemas"]["ConsignlyNewWebhookSubscriptionRequest"]
    assert request["required"] == ["webhookUrl"]
    assert {"webhookUrl", "eventTypes", "signingKey1", "eventType"} == set(request["properties"])
    listed = paths[LIST]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {"PageIndex", "PageSize"}
    item = schema["components"]["schemas"]["ConsignlyWebhookSubscription"]
    assert set(item["properties"]) == ITEM_KEYS
    for path in (
        "/v1/webhook-subscriptions/{webhookSubscriptionId}/test",
        "/v1/webhook-subscriptions/{webhookSubscriptionId}/delete",
    ):
        [operation] = paths[path].values()
        assert "404" in operation["responses"]
        assert "requestBody" not in operation


def test_one_test_on_the_real_clock_stamps_now(api, our_key):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)

    send(api, "POST", CREATE, our_key, {"webhookUrl": HOOK})

    [item] = api.get(LIST, **our_key.bearer).json()["webhookSubscriptions"]
    created = dt.datetime.strptime(item["createdUtc"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert before <= created <= dt.datetime.now(dt.UTC)
