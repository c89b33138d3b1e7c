"""python manage.py ensureadmin: a staff login for the back office of a demo install.

Creates the superuser `admin` with a random password (saved to .admin-password, readable only
by you) when no superuser exists; otherwise says how to log in.
"""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

PASSWORD_FILE = Path(settings.BASE_DIR) / ".admin-password"


class Command(BaseCommand):
    help = "Create the back-office superuser 'admin' if there is none, and report the login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, **options):
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            names = ", ".join(users.filter(is_superuser=True).values_list("username", flat=True))
            hint = (
                f"its password is in {PASSWORD_FILE}"
                if PASSWORD_FILE.exists()
                else "reset a password with `python manage.py changepassword NAME`"
            )
            self.stdout.write(f"Back-office login: {names} ({hint}).")
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser(options["username"], "", password)
        PASSWORD_FILE.write_text(password + "\n")
        os.chmod(PASSWORD_FILE, 0o600)
        self.stdout.write(
            f"Created back-office login {options['username']} / {password} "
            f"(also saved in {PASSWORD_FILE})."
        )
