"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the notification tests: the emails travel
through Django's SMTP backend and arrive as the bytes a mail server would receive."""

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller

from tests.factories import BrandFactory, CarrierFactory, make_consignment, make_leg


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, parsed))
        return "250 OK"

    def bodies(self, index=-1):
        message = self.messages[index][1]
        text = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        return message, text, html


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = False
    settings.PUBLIC_URL = "https://track.example.com"
    yield inbox
    controller.stop()


@pytest.fixture
def brand(db):
    return BrandFactory(
        slug="pine",
        name="Harbour & Pine",
        support_email="help@pine.example",
        primary_colour="#1f4e8c",
    )


@pytest.fixture
def consignment(brand):
    return make_consignment(brand, packages=1, recipient_email="alex@example.com")


@pytest.fixture
def leg(consignment):
    return make_leg(consignment, carrier=CarrierFactory(code="CITYHOP", name="CityHop"))
