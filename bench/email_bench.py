"""Notification emails: how many one worker sends per second to a local SMTP server.

    python bench/email_bench.py [--postgres] [--emails 2000]

Fills a database of its own with consignments, each with a confirmed subscriber and a due
update email (as a burst of carrier events leaves them), starts a real SMTP server (aiosmtpd)
on 127.0.0.1, and times one worker's drain (tracking.delivery.emails.drain: claim under a
lease, compose in the subscriber's language from the timeline, send over one SMTP connection,
mark sent). Every email must arrive, each with its own Message-ID. Target: >= 100 emails/s.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_env, postgres_url, sqlite_url  # noqa: E402

TARGET = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--emails", type=int, default=2000)
    options = parser.parse_args()
    if options.postgres:
        url = postgres_url("email_bench")
    else:
        url = sqlite_url("email_bench.sqlite3")
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    os.environ.update(bench_env(url, PUBLIC_URL="https://track.example.com"))

    import django

    django.setup()
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from tracking import services
    from tracking.delivery import emails
    from tracking.models import (
        Brand,
        Consignment,
        EmailKind,
        EmailState,
        EmailSubscriber,
        OutboundEmail,
        SubscriberState,
    )

    call_command("migrate", verbosity=0)
    OutboundEmail.objects.all().delete()
    EmailSubscriber.objects.all().delete()
    brand, _ = Brand.objects.get_or_create(slug="email-bench", defaults={"name": "Email Bench"})
    have = Consignment.objects.filter(brand=brand).count()
    for _n in range(have, options.emails):
        services.create_consignment(brand=brand, packages=[services.PackageSpec()])
    consignments = list(Consignment.objects.filter(brand=brand)[: options.emails])
    now = timezone.now()
    subscribers = EmailSubscriber.objects.bulk_create(
        [
            EmailSubscriber(
                consignment=c,
                email=f"reader{n}@example.com",
                language=("en", "de", "fr", "es")[n % 4],
                state=SubscriberState.CONFIRMED,
                confirmed_at=now,
            )
            for n, c in enumerate(consignments)
        ]
    )
    OutboundEmail.objects.bulk_create(
        [
            OutboundEmail(
                subscriber=s,
                kind=EmailKind.UPDATE,
                triggers=["out_for_delivery"],
                state=EmailState.PENDING,
                due_at=now,
            )
            for s in subscribers
        ]
    )

    class Inbox:
        def __init__(self):
            self.ids = set()
            self.count = 0

        async def handle_DATA(self, server, session, envelope):
            self.count += 1
            for line in envelope.content.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    self.ids.add(line)
                    break
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    try:
        started = time.perf_counter()
        sent = emails.drain(budget=3600)
        elapsed = time.perf_counter() - started
    finally:
        time.sleep(0.2)
        controller.stop()
    rate = sent / elapsed
    ok = sent == inbox.count == len(inbox.ids) == len(consignments) and rate >= TARGET
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(f"emails sent by one worker: {sent} in {elapsed:.2f} s")
    print(f"received by the SMTP server: {inbox.count} ({len(inbox.ids)} distinct Message-IDs)")
    print(f"rate: {rate:,.0f} emails/s (target >= {TARGET}): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
