"""The job engine end to end (design section 7.2): a carrier's batch commits, the task is
enqueued on commit, and a real worker delivers: django-tasks-db's `db_worker`, and RQ's
worker where Redis is configured (CI's PostgreSQL + Redis run)."""

import pytest
from django.core.management import call_command
from django.test import override_settings
from standardwebhooks.webhooks import Webhook

from tests.factories import add_events
from tracking import services
from tracking.delivery import tasks
from tracking.services import wakeups

pytestmark = pytest.mark.django_db(transaction=True)


def test_db_worker_delivers_what_a_write_enqueued(brand, leg, receiver):
    from django_tasks_db.models import DBTaskResult

    subscription, secret = services.create_subscription(
        brand=brand, url=receiver.url, event_types=["tracking.updated"]
    )
    add_events(leg, (1, "IN_TRANSIT", "Left the depot"))
    assert DBTaskResult.objects.filter(task_path__endswith="deliver_webhooks").count() == 1
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)
    [request] = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["data"]["events"][0]["details"] == "Left the depot"
    assert subscription.messages.get().state == "delivered"


RQ_TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}


@pytest.mark.redis
def test_an_rq_worker_delivers_what_a_write_enqueued(brand, leg, receiver):
    import django_rq
    from rq import SimpleWorker

    with override_settings(TASKS=RQ_TASKS):
        queue = django_rq.get_queue("default")
        queue.empty()
        wakeups.started(tasks.deliver_webhooks)  # no wake-up marker left by an earlier test
        subscription, secret = services.create_subscription(
            brand=brand, url=receiver.url, event_types=["tracking.updated"]
        )
        add_events(leg, (1, "IN_TRANSIT", "Left the depot"))
        assert queue.count == 1
        worker = django_rq.get_worker(
            "default", job_class="django_tasks_rq.Job", worker_class=SimpleWorker
        )
        worker.work(burst=True)
        # The job cleared its wake-up marker as it started: the next write enqueues again.
        add_events(leg, (2, "DELIVERED", "Signed for"))
        assert queue.count == 1
        worker.work(burst=True)
    for request in receiver.requests:
        Webhook(secret).verify(request.body, request.headers)
    assert len(receiver.requests) == 2
    assert set(subscription.messages.values_list("state", flat=True)) == {"delivered"}
