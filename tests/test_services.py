"""The write path: consignments, legs and events through services, checked in the database."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.factories import CarrierFactory, add_events, at, make_consignment, make_leg
from tracking import services
from tracking.models import (
    CARRIER_CODE,
    CONSIGNMENT_REFERENCE,
    EMBED_ORIGIN,
    HEX_COLOUR,
    PACKAGE_REFERENCE,
    ApiKey,
    Carrier,
    Consignment,
    EventSource,
    Package,
    TrackingEvent,
    validate_http_url,
)
from tracking.services import EventSpec, PackageSpec
from tracking.status import Status

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        (CONSIGNMENT_REFERENCE, "EC-000-002-4DF"),
        (PACKAGE_REFERENCE, "EP-000-034-4DG"),
        (CARRIER_CODE, "ROYAL_MAIL"),
        (HEX_COLOUR, "#1f4e8c"),
        (EMBED_ORIGIN, "https://shop.example:8443"),
    ],
)
def test_the_model_rules_cover_the_whole_value(pattern, value):
    # Python's `$` also matches before a final newline; the rules must not.
    assert pattern.match(value)
    assert not pattern.match(value + "\n")


def test_a_url_with_a_trailing_newline_is_refused():
    validate_http_url("https://shop.example/track")
    with pytest.raises(ValidationError):
        validate_http_url("https://shop.example/track\n")


def refresh(*rows):
    for row in rows:
        row.refresh_from_db()


class TestCreateConsignment:
    def test_it_generates_unguessable_references(self, brand):
        consignment = make_consignment(brand, packages=3)
        assert CONSIGNMENT_REFERENCE.match(consignment.reference)
        references = list(consignment.packages.values_list("reference", flat=True))
        assert len(set(references)) == 3
        assert all(PACKAGE_REFERENCE.match(r) for r in references)
        assert list(consignment.packages.values_list("sequence", flat=True)) == [1, 2, 3]

    def test_it_keeps_given_references_in_canonical_form(self, brand):
        consignment = services.create_consignment(
            brand=brand,
            reference=" ec-000-002-4df ",
            packages=[PackageSpec(reference="ep-000-034-4dg", description="Socks")],
        )
        assert consignment.reference == "EC-000-002-4DF"
        assert consignment.packages.get().reference == "EP-000-034-4DG"

    def test_it_needs_at_least_one_package(self, brand):
        with pytest.raises(ValidationError) as error:
            services.create_consignment(brand=brand, packages=[])
        assert "packages" in error.value.message_dict

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"reference": "EC-12"}, "reference"),
            ({"customer_reference": "x" * 101}, "customer_reference"),
            ({"destination_country": "GBR"}, "destination_country"),
            ({"recipient_email": "not-an-email"}, "recipient_email"),
            ({"packages": [PackageSpec(reference="EP-BAD")]}, "packages[0].reference"),
            ({"packages": [PackageSpec(description="x" * 1001)]}, "packages[0].description"),
        ],
    )
    def test_bad_values_name_the_field_and_write_nothing(self, brand, fields, field):
        fields.setdefault("packages", [PackageSpec()])
        with pytest.raises(ValidationError) as error:
            services.create_consignment(brand=brand, **fields)
        assert field in error.value.message_dict
        assert not Consignment.objects.exists()
        assert not Package.objects.exists()

    def test_a_reference_in_use_is_refused(self, brand, consignment):
        with pytest.raises(ValidationError, match="already in use"):
            services.create_consignment(
                brand=brand, reference=consignment.reference, packages=[PackageSpec()]
            )
        package = consignment.packages.first()
        with pytest.raises(ValidationError, match="already in use"):
            services.create_consignment(
                brand=brand, packages=[PackageSpec(reference=package.reference)]
            )
        assert Consignment.objects.count() == 1

    def test_a_collision_of_random_references_draws_again(self, brand, consignment, monkeypatch):
        draws = iter([consignment.reference, "EC-NEW-REF-000"])
        monkeypatch.setattr(
            "tracking.services.consignments.new_reference", lambda prefix: next(draws)
        )
        created = services.create_consignment(brand=brand, packages=[PackageSpec("EP-AAA-000-001")])
        assert created.reference == "EC-NEW-REF-000"


class TestAddLeg:
    def test_it_links_a_carrier_by_name_case_insensitively(self, consignment, carrier):
        leg = services.add_leg(
            consignment=consignment, source=EventSource.CONSIGNLY, carrier_name="carrier x"
        )
        assert leg.carrier == carrier
        assert leg.carrier_name == "carrier x"

    def test_it_creates_a_carrier_for_a_new_name(self, consignment):
        leg = services.add_leg(
            consignment=consignment, source=EventSource.CONSIGNLY, carrier_name="Fast Freight Co"
        )
        assert leg.carrier.name == "Fast Freight Co"
        assert leg.carrier.code == "FAST_FREIGHT_CO"

    def test_legs_are_ordered_in_creation_order_by_default(self, consignment, carrier):
        first = make_leg(consignment, carrier=carrier)
        second = make_leg(consignment, carrier=carrier, tracking_number="OTHER")
        explicit = make_leg(consignment, carrier=carrier, tracking_number="X", sequence=7)
        assert (first.sequence, second.sequence, explicit.sequence) == (1, 2, 7)

    def test_a_status_above_zero_is_its_first_event(self, consignment, carrier):
        leg = make_leg(consignment, carrier=carrier, status=Status.PRINTED)
        event = leg.events.get()
        assert (event.status, event.code, event.package) == (1, "LABEL_PRINTED", None)
        refresh(leg, consignment)
        assert leg.status == Status.PRINTED
        assert consignment.status == Status.PRINTED
        assert set(consignment.packages.values_list("status", flat=True)) == {1}

    def test_a_status_of_zero_stores_no_event(self, consignment, carrier):
        leg = make_leg(consignment, carrier=carrier, status=0)
        assert not leg.events.exists()

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"tracking_url": "ftp://example.com/x"}, "tracking_url"),
            ({"tracking_url": "javascript:alert(1)"}, "tracking_url"),
            ({"status": 12}, "status"),
            ({"status": -1}, "status"),
            ({"tracking_number": "x" * 101}, "tracking_number"),
            ({"carrier_service_name": "x" * 201}, "carrier_service_name"),
            ({"sequence": 0}, "sequence"),
        ],
    )
    def test_bad_values_name_the_field(self, consignment, carrier, fields, field):
        with pytest.raises(ValidationError) as error:
            make_leg(consignment, carrier=carrier, **fields)
        assert field in error.value.message_dict
        assert not consignment.legs.exists()

    def test_packages_of_another_consignment_are_refused(self, consignment, carrier, brand):
        foreign = make_consignment(brand).packages.get()
        with pytest.raises(ValidationError, match="not in this consignment"):
            make_leg(consignment, carrier=carrier, packages=[foreign])

    def test_it_bumps_the_consignment_revision(self, consignment, carrier):
        before = Consignment.objects.get(pk=consignment.pk).revision
        make_leg(consignment, carrier=carrier)
        assert Consignment.objects.get(pk=consignment.pk).revision == before + 1


class TestUpdateLeg:
    def test_nothing_changed_writes_nothing(self, leg):
        before = Consignment.objects.get(pk=leg.consignment_id)
        changed = services.update_leg(
            leg=leg,
            source=EventSource.CONSIGNLY,
            tracking_number=leg.tracking_number,
            carrier_name=leg.carrier_name,
            status=leg.status,
        )
        assert changed is False
        after = Consignment.objects.get(pk=leg.consignment_id)
        assert (after.revision, after.modified_utc) == (before.revision, before.modified_utc)
        leg_after = type(leg).objects.get(pk=leg.pk)
        assert leg_after.modified_utc == leg.modified_utc

    def test_a_new_status_appends_an_event_occurring_now(self, leg):
        moment = dt.datetime(2026, 5, 1, 12, 0, 0, 250_001, tzinfo=dt.UTC)
        with time_machine.travel(moment, tick=False):
            assert services.update_leg(leg=leg, source=EventSource.CONSIGNLY, status=2)
        event = leg.events.get()
        assert (event.status, event.code, event.occurred_at) == (2, "COLLECTED_BY_CARRIER", moment)
        refresh(leg)
        assert (leg.status, leg.modified_utc, leg.last_updated_date) == (2, moment, moment.date())

    def test_none_clears_text_fields(self, leg):
        services.update_leg(leg=leg, source=EventSource.CONSIGNLY, tracking_url=None)
        services.update_leg(leg=leg, source=EventSource.CONSIGNLY, carrier_name=None)
        refresh(leg)
        assert (leg.tracking_url, leg.carrier_name, leg.carrier) == ("", "", None)

    def test_renaming_the_carrier_relinks_it(self, leg, other_carrier):
        services.update_leg(leg=leg, source=EventSource.CONSIGNLY, carrier_name="CARRIER Y")
        refresh(leg)
        assert leg.carrier == other_carrier

    def test_bad_values_change_nothing(self, leg):
        with pytest.raises(ValidationError) as error:
            services.update_leg(
                leg=leg, source=EventSource.CONSIGNLY, tracking_number="new", status=99
            )
        assert "status" in error.value.message_dict
        refresh(leg)
        assert leg.tracking_number == "TRK00009823"


class TestRecordEvent:
    def test_a_duplicate_event_is_not_stored_twice(self, leg):
        first = services.record_event(
            leg=leg,
            source=EventSource.CONSIGNLY,
            status=4,
            description="On its way!",
            occurred_at=at(1),
        )
        revision = Consignment.objects.get(pk=leg.consignment_id).revision
        again = services.record_event(
            leg=leg,
            source=EventSource.CONSIGNLY,
            status=4,
            description="On its way!",
            occurred_at=at(1),
        )
        assert (first, again) == (True, False)
        assert leg.events.count() == 1
        assert Consignment.objects.get(pk=leg.consignment_id).revision == revision

    def test_a_renamed_carrier_counts_as_a_change_even_for_a_duplicate_event(self, leg):
        services.record_event(leg=leg, source=EventSource.CONSIGNLY, status=3, occurred_at=at(1))
        changed = services.record_event(
            leg=leg,
            source=EventSource.CONSIGNLY,
            status=3,
            occurred_at=at(1),
            carrier_name="Last Mile Delivery",
        )
        assert changed is True
        refresh(leg)
        assert leg.carrier_name == "Last Mile Delivery"
        assert leg.events.count() == 1

    def test_a_late_event_is_stored_but_never_moves_the_status_back(self, leg, consignment):
        add_events(leg, (1, "COLLECTED_BY_CARRIER"), (5, "DELIVERED"))
        add_events(leg, (3, "IN_TRANSIT", "arrived late"))
        refresh(leg, consignment)
        assert leg.events.count() == 3
        assert leg.status == Status.DELIVERED
        assert consignment.status == Status.DELIVERED

    def test_unknown_codes_are_stored_with_status_zero_and_change_nothing(self, leg):
        add_events(leg, (1, "IN_TRANSIT"), (2, "SCANNED_AT_GATEWAY"))
        assert leg.events.get(code="SCANNED_AT_GATEWAY").status == 0
        refresh(leg)
        assert leg.status == Status.IN_TRANSIT

    def test_a_package_event_moves_only_that_package(self, leg, consignment):
        first, second = consignment.packages.order_by("sequence")
        add_events(leg, (1, "OUT_FOR_DELIVERY"))
        add_events(leg, (2, "DELIVERED"), package=first)
        refresh(first, second, consignment, leg)
        assert (first.status, second.status) == (Status.DELIVERED, Status.OUT_FOR_DELIVERY)
        assert leg.status == Status.DELIVERED
        assert consignment.status == Status.OUT_FOR_DELIVERY

    def test_a_package_status_follows_its_newest_event_across_legs(self, consignment, carrier):
        linehaul = make_leg(consignment, carrier=carrier, tracking_number="A")
        last_mile = make_leg(consignment, carrier=CarrierFactory(), tracking_number="B")
        add_events(linehaul, (1, "COLLECTED_BY_CARRIER"), (5, "IN_TRANSIT"))
        add_events(last_mile, (6, "OUT_FOR_DELIVERY"))
        add_events(linehaul, (4, "DELAYED"))  # late and older: changes nothing
        statuses = set(consignment.packages.values_list("status", flat=True))
        assert statuses == {Status.OUT_FOR_DELIVERY}

    def test_a_leg_carrying_some_packages_moves_only_those(self, consignment, carrier):
        first, second = consignment.packages.order_by("sequence")
        leg = make_leg(consignment, carrier=carrier, packages=[second])
        add_events(leg, (1, "IN_TRANSIT"))
        refresh(first, second)
        assert (first.status, second.status) == (0, Status.IN_TRANSIT)

    def test_events_for_a_package_not_on_the_leg_are_refused(self, consignment, carrier):
        first, second = consignment.packages.order_by("sequence")
        leg = make_leg(consignment, carrier=carrier, packages=[second])
        with pytest.raises(ValidationError, match="not on this leg"):
            add_events(leg, (1, "IN_TRANSIT"), package=first)
        assert not TrackingEvent.objects.exists()

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"status": 12}, "status"),
            ({"code": "no way!"}, "code"),
            ({"description": "x" * 1001}, "description"),
            ({"location": "x" * 201}, "location"),
            ({"signed_by": "x" * 201}, "signed_by"),
            ({"occurred_at": dt.datetime(2026, 1, 1)}, "occurred_at"),
            ({"occurred_at": dt.datetime(1999, 1, 1, tzinfo=dt.UTC)}, "occurred_at"),
            ({"occurred_at": dt.datetime(2999, 1, 1, tzinfo=dt.UTC)}, "occurred_at"),
        ],
    )
    def test_bad_values_name_the_field_and_store_nothing(self, leg, fields, field):
        fields.setdefault("status", 3)
        with pytest.raises(ValidationError) as error:
            services.record_event(leg=leg, source=EventSource.ADMIN, **fields)
        assert field in error.value.message_dict
        assert not TrackingEvent.objects.exists()

    def test_either_status_or_code_is_needed(self, leg):
        with pytest.raises(ValidationError, match="required"):
            services.record_event(leg=leg, source=EventSource.ADMIN)

    def test_a_code_and_a_status_may_both_be_given(self, leg):
        services.record_event(leg=leg, source=EventSource.ADMIN, status=8, code="weather_delay")
        event = leg.events.get()
        assert (event.status, event.code) == (8, "WEATHER_DELAY")


class TestRecordEvents:
    def test_a_batch_is_all_or_nothing(self, leg):
        good = EventSpec(leg=leg, occurred_at=at(1), code="IN_TRANSIT")
        bad = EventSpec(leg=leg, occurred_at=at(2), code="DELIVERED", description="x" * 2000)
        with pytest.raises(ValidationError):
            services.record_events(events=[good, bad], source=EventSource.SORTED)
        assert not TrackingEvent.objects.exists()
        leg.refresh_from_db()
        assert leg.status == 0

    def test_re_posting_a_batch_stores_nothing_new(self, leg):
        specs = lambda: [  # noqa: E731
            EventSpec(leg=leg, occurred_at=at(n), code="IN_TRANSIT", description=f"scan {n}")
            for n in range(5)
        ]
        first = services.record_events(events=specs(), source=EventSource.SORTED)
        second = services.record_events(events=specs(), source=EventSource.SORTED)
        assert (first.stored, first.duplicates) == (5, 0)
        assert (second.stored, second.duplicates) == (0, 5)
        assert leg.events.count() == 5

    def test_duplicates_within_one_batch_are_stored_once(self, leg):
        spec = {"leg": leg, "occurred_at": at(1), "code": "IN_TRANSIT"}
        result = services.record_events(
            events=[EventSpec(**spec), EventSpec(**spec)], source=EventSource.SORTED
        )
        assert (result.stored, result.duplicates) == (1, 1)

    def test_a_leg_wide_and_a_package_event_are_different_events(self, leg, consignment):
        package = consignment.packages.first()
        add_events(leg, (1, "IN_TRANSIT"))
        add_events(leg, (1, "IN_TRANSIT"), package=package)
        add_events(leg, (1, "IN_TRANSIT"))
        assert leg.events.count() == 2

    def test_the_same_event_differing_only_in_description_is_another_event(self, leg):
        add_events(leg, (1, "IN_TRANSIT", "Leeds"), (1, "IN_TRANSIT", "York"))
        assert leg.events.count() == 2

    def test_a_batch_over_many_consignments_derives_each_once(self, brand, carrier):
        legs = [make_leg(make_consignment(brand), carrier=carrier) for _ in range(3)]
        specs = [
            EventSpec(leg=leg, occurred_at=at(hours), code=code)
            for leg in legs
            for hours, code in [(1, "IN_TRANSIT"), (2, "DELIVERED")]
        ]
        services.record_events(events=specs, source=EventSource.SORTED)
        assert set(Consignment.objects.values_list("status", flat=True)) == {Status.DELIVERED}

    @pytest.mark.parametrize("events", [100, 300])
    def test_a_batch_takes_a_fixed_number_of_queries_however_many_events_it_holds(
        self, leg, django_assert_num_queries, events
    ):
        specs = [
            EventSpec(leg=leg, occurred_at=at(n / 10), code="IN_TRANSIT", description=str(n))
            for n in range(events)
        ]
        with django_assert_num_queries(10):
            services.record_events(events=specs, source=EventSource.SORTED)
        assert leg.events.count() == events

    def test_incremental_derivation_agrees_with_a_full_recompute(self, consignment, carrier):
        first, second = consignment.packages.order_by("sequence")
        a = make_leg(consignment, carrier=carrier, tracking_number="A")
        b = make_leg(consignment, carrier=CarrierFactory(), tracking_number="B", packages=[second])
        add_events(a, (1, "COLLECTED_BY_CARRIER"), (3, "IN_TRANSIT"))
        add_events(b, (4, "OUT_FOR_DELIVERY"), (2, "IN_TRANSIT"))
        add_events(a, (5, "DELIVERED"), package=first)
        add_events(b, (6, "DAMAGED"), package=second)
        add_events(a, (0.5, "LABEL_PRINTED"))
        incremental = snapshot(consignment)
        services.rederive(consignment)
        assert snapshot(consignment) == incremental
        assert incremental["consignment"] == Status.EXCEPTION


def snapshot(consignment):
    consignment.refresh_from_db()
    return {
        "consignment": consignment.status,
        "packages": list(
            consignment.packages.order_by("sequence").values_list("status", flat=True)
        ),
        "legs": list(consignment.legs.order_by("sequence").values_list("status", flat=True)),
    }


class TestTheClock:
    """Every "now" a service stamps keeps microseconds (design section 1, "One clock"): frozen
    inside a second, and once on the real clock for each path."""

    MOMENT = dt.datetime(2026, 3, 9, 8, 0, 0, 345_678, tzinfo=dt.UTC)

    def test_a_status_on_create_occurs_now_to_the_microsecond(self, consignment, carrier):
        with time_machine.travel(self.MOMENT, tick=False):
            leg = make_leg(consignment, carrier=carrier, status=Status.DISPATCHED)
        event = leg.events.get()
        assert (event.occurred_at, event.received_at) == (self.MOMENT, self.MOMENT)
        assert (leg.created_utc, leg.modified_utc) == (self.MOMENT, self.MOMENT)

    def test_an_event_without_a_time_occurs_now_to_the_microsecond(self, leg):
        with time_machine.travel(self.MOMENT, tick=False):
            services.record_event(leg=leg, source=EventSource.CONSIGNLY, status=4)
        event = leg.events.get()
        assert (event.occurred_at, event.received_at) == (self.MOMENT, self.MOMENT)

    def test_a_batch_is_received_now_to_the_microsecond(self, leg):
        # The Sorted carrier batch's one write: its events keep their own times.
        with time_machine.travel(self.MOMENT, tick=False):
            add_events(leg, (1, "IN_TRANSIT"), (2, "OUT_FOR_DELIVERY"))
        assert set(leg.events.values_list("received_at", flat=True)) == {self.MOMENT}
        assert list(leg.events.values_list("occurred_at", flat=True)) == [at(1), at(2)]

    def test_on_the_real_clock_each_write_follows_the_one_before(self, consignment, carrier):
        # Create with a status, PUT a status, post an event without a time, then a batch: on
        # the real clock these usually share one second, so only microseconds order them.
        before = dt.datetime.now(dt.UTC)
        leg = make_leg(consignment, carrier=carrier, status=Status.DISPATCHED)
        services.update_leg(leg=leg, source=EventSource.CONSIGNLY, status=Status.IN_TRANSIT)
        services.record_event(leg=leg, source=EventSource.CONSIGNLY, status=4)
        services.record_events(
            events=[EventSpec(leg=leg, occurred_at=at(0), code="FOR_INFORMATION")],
            source=EventSource.SORTED,
        )
        after = dt.datetime.now(dt.UTC)

        stamped = list(
            leg.events.exclude(code="FOR_INFORMATION")
            .order_by("occurred_at")
            .values_list("status", "occurred_at", "received_at")
        )
        assert [status for status, *_ in stamped] == [2, 3, 4]
        assert all(before <= moment <= after for _, *moments in stamped for moment in moments)
        batch = leg.events.get(code="FOR_INFORMATION")
        assert stamped[-1][2] <= batch.received_at <= after
        refresh(leg)
        assert leg.status == Status.OUT_FOR_DELIVERY


class TestDatabaseConstraints:
    def test_the_identity_constraint_refuses_a_second_copy(self, leg):
        add_events(leg, (1, "IN_TRANSIT"))
        event = leg.events.get()
        event.pk = None
        with pytest.raises(IntegrityError), transaction.atomic():
            event.save()

    def test_the_status_range_is_enforced_by_the_database(self, leg):
        with pytest.raises(IntegrityError), transaction.atomic():
            type(leg).objects.filter(pk=leg.pk).update(status=12)

    def test_an_api_key_must_be_bound_to_its_role(self, brand):
        with pytest.raises(IntegrityError), transaction.atomic():
            ApiKey.objects.create(name="x", role="carrier", brand=brand, hashed_secret="h")


class TestApiKeys:
    def test_only_a_hash_of_the_secret_is_stored(self, brand):
        key, secret = services.issue_api_key(name="Shop", brand=brand)
        assert secret.startswith("tpk_") and len(secret) > 40
        assert key.hashed_secret == ApiKey.hash(secret)
        assert secret not in str(ApiKey.objects.filter(pk=key.pk).values().get())
        assert key.prefix == secret[:10]
        assert key.role == "client"

    def test_a_key_is_for_a_brand_or_a_carrier(self, brand, carrier):
        with pytest.raises(ValidationError):
            services.issue_api_key(name="Both", brand=brand, carrier=carrier)
        with pytest.raises(ValidationError):
            services.issue_api_key(name="Neither")
        assert services.issue_api_key(name="Feed", carrier=carrier)[0].role == "carrier"

    def test_expired_and_revoked_keys_are_not_usable(self, brand):
        live, _ = services.issue_api_key(name="live", brand=brand)
        revoked, _ = services.issue_api_key(name="revoked", brand=brand)
        revoked.active = False
        revoked.save()
        soon, _ = services.issue_api_key(
            name="soon", brand=brand, expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        )
        with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)):
            assert list(ApiKey.objects.usable()) == [live]


def test_carriers_found_by_name_are_reused(db):
    first = Carrier.objects.for_name("Royal Mail")
    assert Carrier.objects.for_name("ROYAL MAIL") == first
    assert Carrier.objects.for_name("Royal-Mail").code == "ROYAL_MAIL_2"


def test_asking_for_status_zero_changes_nothing(leg):
    services.update_leg(leg=leg, source=EventSource.CONSIGNLY, status=3)
    assert services.update_leg(leg=leg, source=EventSource.CONSIGNLY, status=0) is False
    leg.refresh_from_db()
    assert (leg.status, leg.events.count()) == (3, 1)


def test_the_same_moment_in_another_offset_is_the_same_event(leg):
    utc = dt.datetime(2026, 3, 9, 12, 0, tzinfo=dt.UTC)
    paris = utc.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert services.record_event(leg=leg, source=EventSource.SORTED, code="X", occurred_at=utc)
    assert not services.record_event(
        leg=leg, source=EventSource.SORTED, code="X", occurred_at=paris
    )


def test_the_identity_migration_computes_what_the_model_does(leg):
    import importlib

    migration = importlib.import_module("tracking.migrations.0002_event_identity_uuid")
    add_events(leg, (1, "IN_TRANSIT", "Leeds"))
    stored = TrackingEvent.objects.get().identity

    class Apps:
        def get_model(self, app, name):
            return TrackingEvent

    migration.recompute_identities(Apps(), None)
    assert TrackingEvent.objects.get().identity == stored
