#!/usr/bin/env python
"""Django's command-line utility: `.venv/bin/python manage.py COMMAND` in the project folder.

When SECRET_KEY is not set, it uses the key that `make run` generated and keeps in
.secret-key beside this file, so an operator's commands work on the portal `make run` serves.
That file exists only where `make run` made it (a development or demo install); a production
deployment sets SECRET_KEY, which always wins, and the web server (config.wsgi) never reads
the file.
"""

import os
import sys
from pathlib import Path

SECRET_FILE = Path(__file__).resolve().parent / ".secret-key"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not os.environ.get("SECRET_KEY") and SECRET_FILE.is_file():
        os.environ["SECRET_KEY"] = SECRET_FILE.read_text().strip()
    try:
        from django.core.management import execute_from_command_line
    except ImportError:
        sys.exit(
            f"Django is not installed for {sys.executable}. Run `make run` (or `make test`) "
            "once, then use the project's own Python: .venv/bin/python manage.py ..."
        )
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
