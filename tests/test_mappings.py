"""Carrier code mappings (design section 7.1): raw codes kept, a mapping applied to stored and
future events with their statuses derived again, and the back office that manages them."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CarrierFactory, add_events, at, make_consignment, make_leg
from tracking import services
from tracking.models import CodeMapping, Consignment, EventSource, TrackingEvent
from tracking.services import EventSpec
from tracking.status import Status

pytestmark = pytest.mark.django_db


def statuses(consignment):
    consignment.refresh_from_db()
    return (
        [leg.status for leg in consignment.legs.all()],
        [package.status for package in consignment.packages.all()],
        consignment.status,
    )


class TestRawCodes:
    def test_an_event_keeps_the_code_as_sent_and_its_normalised_form(self, leg):
        add_events(leg, (1, "Out for-delivery"))
        event = TrackingEvent.objects.get()
        assert (event.raw_code, event.code, event.status) == (
            "Out for-delivery",
            "OUT_FOR_DELIVERY",
            Status.OUT_FOR_DELIVERY,
        )

    def test_an_event_given_a_status_only_has_its_default_code_as_sent(self, leg):
        services.record_event(leg=leg, source=EventSource.CONSIGNLY, status=5)
        assert TrackingEvent.objects.values_list("raw_code", "code").get() == (
            "DELIVERED",
            "DELIVERED",
        )

    def test_a_code_longer_than_the_limit_is_refused_naming_the_field(self, leg):
        with pytest.raises(ValidationError) as refused:
            add_events(leg, (1, "A" + " B" * 60))
        assert refused.value.message_dict == {"code": ["must be at most 100 characters"]}


class TestMapping:
    def test_a_mapping_rewrites_stored_events_and_derives_again(self, consignment, leg, carrier):
        add_events(leg, (1, "IN_TRANSIT"), (2, "Zugestellt", "Zugestellt an Nachbar"))
        assert statuses(consignment) == ([3], [3, 3], Status.IN_TRANSIT)
        revision = Consignment.objects.get(pk=consignment.pk).revision

        result = services.map_code(carrier=carrier, code="zugestellt", maps_to="DELIVERED")

        assert (result.mapping.code, result.events, result.consignments) == ("ZUGESTELLT", 1, 1)
        assert statuses(consignment) == ([5], [5, 5], Status.DELIVERED)
        event = TrackingEvent.objects.get(raw_code="Zugestellt")
        assert (event.code, event.status) == ("DELIVERED", Status.DELIVERED)
        assert Consignment.objects.get(pk=consignment.pk).revision > revision

    def test_future_events_are_mapped_as_they_arrive(self, consignment, leg, carrier):
        services.map_code(carrier=carrier, code="ZUGESTELLT", maps_to="DELIVERED")
        add_events(leg, (1, "zugestellt"))
        assert TrackingEvent.objects.values_list("code", "status").get() == ("DELIVERED", 5)
        assert statuses(consignment)[2] == Status.DELIVERED

    def test_a_re_post_after_mapping_is_the_same_event(self, consignment, leg, carrier):
        add_events(leg, (1, "ZUGESTELLT"))
        services.map_code(carrier=carrier, code="ZUGESTELLT", maps_to="DELIVERED")
        result = add_events(leg, (1, "ZUGESTELLT"))
        assert (result.stored, result.duplicates) == (0, 1)
        assert TrackingEvent.objects.count() == 1

    def test_a_mapping_is_the_carriers_own(self, consignment, leg, carrier):
        other_leg = make_leg(make_consignment(consignment.brand), carrier=CarrierFactory())
        add_events(leg, (1, "ZUGESTELLT"))
        add_events(other_leg, (1, "ZUGESTELLT"))
        services.map_code(carrier=carrier, code="ZUGESTELLT", maps_to="DELIVERED")
        assert sorted(TrackingEvent.objects.values_list("status", flat=True)) == [0, 5]

    def test_changing_a_mapping_moves_its_events_again(self, consignment, leg, carrier):
        add_events(leg, (1, "IN_TRANSIT"), (2, "ZUGESTELLT"))
        services.map_code(carrier=carrier, code="ZUGESTELLT", maps_to="DELIVERED")
        result = services.map_code(carrier=carrier, code="ZUGESTELLT", maps_to="DELIVERY_FAILED")
        assert result.events == 1
        assert statuses(consignment)[2] == Status.ATTEMPTED_DELIVERY
        assert CodeMapping.objects.count() == 1

    def test_removing_a_mapping_makes_the_code_unknown_again(self, consignment, leg, carrier):
        add_events(leg, (1, "IN_TRANSIT"), (2, "ZUGESTELLT"))
        result = services.map_code(carrier=carrier, code="ZUGESTELLT", maps_to="DELIVERED")
        services.unmap_code(result.mapping)
        assert TrackingEvent.objects.filter(raw_code="ZUGESTELLT").values_list(
            "code", "status"
        ).get() == ("ZUGESTELLT", 0)
        assert statuses(consignment) == ([3], [3, 3], Status.IN_TRANSIT)

    @pytest.mark.parametrize(
        ("code", "maps_to", "field", "message"),
        [
            ("DELIVERED", "LOST", "code", "is a normalised code already"),
            ("ZUGESTELLT", "NOT_A_CODE", "maps_to", "must be one of the normalised codes"),
            ("<b>", "DELIVERED", "code", "letters, digits and underscores"),
        ],
    )
    def test_bad_mappings_are_refused_naming_the_field(
        self, carrier, code, maps_to, field, message
    ):
        with pytest.raises(ValidationError) as refused:
            services.map_code(carrier=carrier, code=code, maps_to=maps_to)
        assert message in refused.value.message_dict[field][0]
        assert not CodeMapping.objects.exists()

    def test_a_feed_of_known_codes_never_asks_for_mappings(self, leg):
        specs = [EventSpec(leg=leg, occurred_at=at(1), code="IN_TRANSIT")]
        with CaptureQueriesContext(connection) as captured:
            services.record_events(events=specs, source=EventSource.SORTED)
        assert not any("codemapping" in q["sql"] for q in captured.captured_queries)
        specs = [EventSpec(leg=leg, occurred_at=at(2), code="ZUGESTELLT")]
        with CaptureQueriesContext(connection) as captured:
            services.record_events(events=specs, source=EventSource.SORTED)
        assert sum("codemapping" in q["sql"] for q in captured.captured_queries) == 1


class TestUnmapped:
    def test_unmapped_codes_are_listed_per_carrier_most_frequent_first(self, leg, carrier):
        add_events(leg, (1, "ZUGESTELLT"), (2, "ZUGESTELLT", "again"), (3, "ABHOLUNG"))
        add_events(leg, (4, "IN_TRANSIT"), (5, "FOR_INFORMATION"))
        rows = services.unmapped_codes()
        assert [(r.carrier_name, r.code, r.events) for r in rows] == [
            ("Carrier X", "ZUGESTELLT", 2),
            ("Carrier X", "ABHOLUNG", 1),
        ]
        services.map_code(carrier=carrier, code="ZUGESTELLT", maps_to="DELIVERED")
        assert [r.code for r in services.unmapped_codes()] == ["ABHOLUNG"]


class TestBackOffice:
    def test_a_superuser_maps_a_code_from_the_unmapped_list(self, admin_client, consignment, leg):
        add_events(leg, (1, "ZUGESTELLT"))
        page = admin_client.get(reverse("admin:tracking_codemapping_unmapped"))
        assert page.status_code == 200
        assert b"ZUGESTELLT" in page.content
        link = reverse("admin:tracking_codemapping_add")
        assert link.encode() in page.content

        response = admin_client.post(
            link, {"carrier": leg.carrier_id, "code": "zugestellt", "maps_to": "DELIVERED"}
        )
        assert response.status_code == 302, response.content
        assert statuses(consignment)[2] == Status.DELIVERED
        assert (
            b"Every code received is mapped or known"
            in admin_client.get(reverse("admin:tracking_codemapping_unmapped")).content
        )

    def test_a_known_code_is_refused_on_the_form(self, admin_client, leg):
        response = admin_client.post(
            reverse("admin:tracking_codemapping_add"),
            {"carrier": leg.carrier_id, "code": "delivered", "maps_to": "LOST"},
        )
        assert response.status_code == 200
        assert b"is a normalised code already" in response.content

    def test_deleting_a_mapping_in_the_back_office_restores_the_events(
        self, admin_client, consignment, leg, carrier
    ):
        add_events(leg, (1, "ZUGESTELLT"))
        mapping = services.map_code(carrier=carrier, code="ZUGESTELLT", maps_to="DELIVERED")
        url = reverse("admin:tracking_codemapping_delete", args=[mapping.mapping.pk])
        assert admin_client.post(url, {"post": "yes"}).status_code == 302
        assert statuses(consignment)[2] == Status.UNKNOWN

    def test_staff_who_are_not_superusers_cannot_see_mappings(self, client, django_user_model):
        staff = django_user_model.objects.create_user("agent", password="pw", is_staff=True)
        client.force_login(staff)
        assert client.get(reverse("admin:tracking_codemapping_changelist")).status_code == 403
        assert client.get(reverse("admin:tracking_codemapping_unmapped")).status_code == 403
