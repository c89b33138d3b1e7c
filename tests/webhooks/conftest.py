"""A real HTTP receiver on 127.0.0.1 for the delivery tests: it records every request and
answers what the test queued (status, body, delay), 200 by default."""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.factories import BrandFactory, CarrierFactory, make_consignment, make_leg


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list = field(default_factory=list)
    answers: list = field(default_factory=list)  # (status, body, delay, headers)

    def answer(self, status=200, body=b"", delay=0.0, headers=None, times=1):
        self.answers.extend([(status, body, delay, headers or {})] * times)


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            status, reply, delay, headers = (
                state.answers.pop(0) if state.answers else (200, b"ok", 0.0, {})
            )
            if delay:
                time.sleep(delay)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # a batch arrives as 16 connections at once

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/tracking"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def allow_private(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def brand(db):
    return BrandFactory(slug="shop", name="Shop", support_email="support@shop.example")


@pytest.fixture
def carrier(db):
    return CarrierFactory(code="CARRIER_X", name="Carrier X")


@pytest.fixture
def consignment(brand):
    return make_consignment(brand, packages=2)


@pytest.fixture
def leg(consignment, carrier):
    return make_leg(consignment, carrier=carrier)
