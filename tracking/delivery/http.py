"""The one HTTP client that reaches outside: a POST to a webhook endpoint.

The host is resolved once and checked (no loopback, private or link-local address unless
WEBHOOK_ALLOW_PRIVATE), and the connection goes to the address that was checked, so a name
that changes between the check and the connect cannot lead inward. Redirects are not
followed; the whole exchange has a deadline; only the first kilobyte of the answer is read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass

from tracking import fields

TIMEOUT = 10.0
EXCERPT = 1024
USER_AGENT = "tracking-portal-webhooks/1"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, timed out, unreachable)
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool) -> Answer:
    started = time.monotonic()

    def answer(status=None, excerpt="", error="") -> Answer:
        elapsed = round((time.monotonic() - started) * 1000)
        return Answer(status, excerpt, error[:500], elapsed)

    problem = fields.check_webhook_url(url)
    if problem:
        return answer(error="the URL is not an http:// or https:// URL")
    addresses, problem = fields.resolve_endpoint(url, allow_private=allow_private)
    if problem and problem.code == fields.PRIVATE_ADDRESS:
        return answer(error=f"refused: the host resolves to {problem.limit}, not a public address")
    if problem:
        return answer(error="the host name does not resolve")
    parts = urllib.parse.urlsplit(url)
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kind = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
    connection = kind(parts.hostname, port, addresses[0], TIMEOUT)
    try:
        connection.request(
            "POST",
            target,
            body=body,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Connection": "close",
            },
        )
        # The deadline covers the whole exchange, not each read.
        remaining = TIMEOUT - (time.monotonic() - started)
        if remaining <= 0:
            raise TimeoutError
        connection.sock.settimeout(remaining)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT).decode("utf-8", "replace")
        return answer(status=response.status, excerpt=excerpt)
    except TimeoutError:
        return answer(error=f"no answer within {TIMEOUT:g} s")
    except ssl.SSLError as error:
        return answer(error=f"TLS: {error.reason or error}")
    except (OSError, http.client.HTTPException) as error:
        return answer(error=f"{type(error).__name__}: {error}")
    finally:
        connection.close()
