"""Coalesced wake-ups (services/wakeups.py): a write enqueues the drain task only when no copy
is queued and unstarted, on the database backend and on RQ, and a lost enqueue loses no row."""

import logging

import pytest
from django.test import override_settings

from tests.factories import add_events
from tracking import services
from tracking.delivery import tasks
from tracking.models import WebhookMessage
from tracking.services import wakeups

pytestmark = pytest.mark.django_db(transaction=True)

RQ_TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}


def ready_deliveries():
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.ready().filter(task_path__endswith="deliver_webhooks")


@pytest.fixture
def subscribed(brand, receiver):
    return services.create_subscription(
        brand=brand, url=receiver.url, event_types=["tracking.updated"]
    )


def test_writes_while_a_copy_is_queued_enqueue_no_other(subscribed, leg):
    add_events(leg, (1, "IN_TRANSIT"))
    add_events(leg, (2, "OUT_FOR_DELIVERY"))
    add_events(leg, (3, "DELIVERED"))
    assert WebhookMessage.objects.count() == 3
    assert ready_deliveries().count() == 1


def test_a_write_after_the_copy_started_enqueues_another(subscribed, leg):
    add_events(leg, (1, "IN_TRANSIT"))
    ready_deliveries().update(status="RUNNING")  # what db_worker's claim does
    add_events(leg, (2, "DELIVERED"))
    assert ready_deliveries().count() == 1


def test_a_copy_waiting_for_later_does_not_stand_for_now(subscribed, leg):
    from django.utils import timezone

    services.webhooks.wake(run_after=timezone.now() + timezone.timedelta(minutes=5))
    assert ready_deliveries().count() == 0  # queued, but not due
    add_events(leg, (1, "IN_TRANSIT"))
    assert ready_deliveries().count() == 1


def test_a_failed_enqueue_is_logged_and_loses_no_row(subscribed, leg, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise ConnectionError("the queue is down")

    monkeypatch.setattr(type(tasks.deliver_webhooks), "enqueue", refuse)
    with caplog.at_level(logging.WARNING, logger="tracking.services.wakeups"):
        add_events(leg, (1, "IN_TRANSIT"))
    assert "the sweep will find its rows" in caplog.text
    assert WebhookMessage.objects.get().state == "pending"


@pytest.fixture
def rq_queue():
    import django_rq

    with override_settings(TASKS=RQ_TASKS):
        queue = django_rq.get_queue("default")
        queue.empty()
        wakeups.started(tasks.deliver_webhooks)  # no marker left by an earlier test
        yield queue
        queue.empty()
        wakeups.started(tasks.deliver_webhooks)


@pytest.mark.redis
def test_on_rq_writes_while_a_job_is_queued_enqueue_no_other(subscribed, leg, rq_queue):
    add_events(leg, (1, "IN_TRANSIT"))
    add_events(leg, (2, "DELIVERED"))
    assert rq_queue.count == 1
    wakeups.started(tasks.deliver_webhooks)  # the job's first step
    add_events(leg, (3, "DELIVERED", "Signed for"))
    assert rq_queue.count == 2


@pytest.mark.redis
def test_on_rq_a_failed_enqueue_frees_the_marker(subscribed, leg, rq_queue, monkeypatch):
    real = type(tasks.deliver_webhooks).enqueue

    def refuse(*args, **kwargs):
        raise ConnectionError("the queue is down")

    monkeypatch.setattr(type(tasks.deliver_webhooks), "enqueue", refuse)
    add_events(leg, (1, "IN_TRANSIT"))
    monkeypatch.setattr(type(tasks.deliver_webhooks), "enqueue", real)
    add_events(leg, (2, "DELIVERED"))
    assert rq_queue.count == 1
