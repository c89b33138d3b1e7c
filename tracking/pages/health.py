"""Liveness and readiness: /healthz answers 200 only when the database does, and says whether
background work is keeping up (a due webhook message or email waiting over 5 minutes means
no worker is running); a stalled worker is reported, not a 503, so load balancers keep the
pages up."""

import datetime as dt
import logging

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from tracking.db.health import database_answers
from tracking.delivery import emails, webhooks

logger = logging.getLogger(__name__)

WORKER_LATE_AFTER = dt.timedelta(minutes=5)


@never_cache
@require_safe
def healthz(request):
    try:
        answered = database_answers()
        now = timezone.now()
        waiting = [webhooks.oldest_due(now), emails.oldest_due(now)] if answered else []
        due_since = min((at for at in waiting if at is not None), default=None)
    except Exception:  # any failure to reach the database means "not ready"
        logger.warning("health check: database unavailable", exc_info=True)
        answered = False
    if not answered:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    waited = (now - due_since).total_seconds() if due_since else 0.0
    if waited > WORKER_LATE_AFTER.total_seconds():
        return JsonResponse(
            {
                "status": "degraded",
                "database": "ok",
                "worker": "stalled",
                "oldestDueSeconds": round(waited),
            }
        )
    return JsonResponse({"status": "ok", "database": "ok", "worker": "ok"})
