"""A real outage of a SQLite database, in one process that is never restarted (run by
test_outage.py), and the WSGI request its PostgreSQL tests send too.

As a script: migrates the SQLite file DATABASE_URL names, inside the folder DRILL_FOLDER, builds a
consignment and a client key, then asks the page, both APIs and /healthz: before, twice while
the folder is moved away, and once it is back. Prints each answer's status and Retry-After
as JSON.
"""

import json
import os
import sys
import wsgiref.util
from pathlib import Path


def wsgi_get(path: str, **headers: str) -> list:
    """[status, Retry-After] of one GET through config.wsgi, sent as gunicorn sends it.

    request_started and request_finished fire around it, and request_finished is where Django
    drops a connection that broke; the test Client leaves that out, so it cannot show what a
    server does after an outage."""
    from config.wsgi import application

    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    environ |= {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    wsgiref.util.setup_testing_defaults(environ)
    started = []
    body = application(environ, lambda *answer: started.append(answer))
    try:
        b"".join(body)
    finally:
        body.close()  # fires request_finished
    status, answer_headers = started[0][:2]
    return [int(status.split()[0]), dict(answer_headers).get("Retry-After")]


def endpoints(consignment, secret: str) -> dict[str, tuple[str, dict]]:
    """The page, a read of each API with a client key, and the health check."""
    return {
        "page": (f"/track/{consignment.reference}/", {}),
        "consignly": (f"/v1/consignments/{consignment.pk}", {"Authorization": f"Bearer {secret}"}),
        "sorted": (f"/tracking/{consignment.reference}", {"Ocp-Apim-Subscription-Key": secret}),
        "healthz": ("/healthz", {}),
    }


def answers(consignment, secret: str) -> dict[str, list]:
    return {
        name: wsgi_get(path, **headers)
        for name, (path, headers) in endpoints(consignment, secret).items()
    }


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    # As in the tests: the manifest storage needs `collectstatic`, which a fresh clone has not run.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}).enable()

    from tests.factories import BrandFactory, make_consignment
    from tracking import services

    call_command("migrate", verbosity=0)
    brand = BrandFactory(slug="harbour")
    consignment = make_consignment(brand, packages=2)
    _key, secret = services.issue_api_key(name="Harbour shop", brand=brand)

    folder = Path(os.environ["DRILL_FOLDER"])
    away = folder.with_name(f"{folder.name}-away")
    found = {"before": answers(consignment, secret)}
    # An open SQLite connection goes on reading a file that has been moved, so the process's
    # connection ends first (as CONN_MAX_AGE ends it); then the folder goes, -wal and -shm too.
    connection.close()
    folder.rename(away)
    found["away"] = answers(consignment, secret)
    found["away, again"] = answers(consignment, secret)
    away.rename(folder)
    found["back"] = answers(consignment, secret)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
