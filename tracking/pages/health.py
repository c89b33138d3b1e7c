"""Liveness and readiness: /healthz answers 200 only when the database does."""

import logging

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from tracking.db.health import database_answers

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request):
    try:
        answered = database_answers()
    except Exception:  # any failure to reach the database means "not ready"
        logger.warning("health check: database unavailable", exc_info=True)
        answered = False
    if not answered:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
