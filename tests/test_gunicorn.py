"""gunicorn's access log never records the credential in an email link's path."""

import datetime as dt
import runpy
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config

CONF = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))


def logged_atoms(path: str) -> dict:
    logger = CONF["MaskingLogger"](Config())
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": path,
        "PATH_INFO": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "QUERY_STRING": "",
    }
    response = SimpleNamespace(status="200 OK", sent=2, headers=[])
    return logger.atoms(response, SimpleNamespace(headers=[]), environ, dt.timedelta(0))


def test_email_link_tokens_are_masked():
    for purpose in ("confirm", "unsubscribe"):
        atoms = logged_atoms(f"/notify/{purpose}/abc123:signature/")
        assert atoms["U"] == f"/notify/{purpose}/…/"
        assert "signature" not in atoms["r"]


def test_other_paths_are_logged_as_they_are():
    assert logged_atoms("/track/EC-DEM-000-001/")["U"] == "/track/EC-DEM-000-001/"
