"""gunicorn settings for `make run` and production: workers sized from the cores."""

import multiprocessing
import os
import re

from gunicorn.glogging import Logger

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = 100_000
max_requests_jitter = 10_000
timeout = 30
graceful_timeout = 30
accesslog = "-"
# The path without its query string: embed pages carry short-lived access tokens there.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


# The links in notification emails carry their credential in the path (an unsubscribe link
# never expires): the access log records the path with the token masked.
_EMAIL_LINK = re.compile(r"^(/notify/(?:confirm|unsubscribe)/)[^/ ]+")
_MASK = r"\1…"


class MaskingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = _EMAIL_LINK.sub(_MASK, atoms["U"] or "")
        method, _, rest = atoms["r"].partition(" ")
        atoms["r"] = f"{method} {_EMAIL_LINK.sub(_MASK, rest)}"
        return atoms


logger_class = MaskingLogger
