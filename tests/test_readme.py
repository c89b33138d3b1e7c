"""The README's commands, run exactly as printed, in a project folder where `make run` has run.

The folder is a copy of this one (its `.venv` a link to this venv) with what `make run` leaves
behind: a `.secret-key` and a migrated SQLite database. Running there leaves the developer's own
db.sqlite3, .secret-key and .admin-password alone (ensureadmin writes beside manage.py).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from tests import browser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# The placeholder the README uses for a consignment reference; a demo one has a recipient.
PLACEHOLDER, DEMO_REFERENCE = "EC-XXX-XXX-XXX", "EC-DEM-000-002"
OPERATING = {
    "createbrand",
    "createapikey",
    "seed_demo",
    "exportconsignment",
    "eraserecipient",
    "ensureadmin",
    "sweepratelimits",
    "rederive",
    "sweep",
    "suppressemail",
}
# Left behind by make run, make test and the benchmarks; none is part of the project's files.
NOT_COPIED = {
    ".venv",
    ".git",
    "staticfiles",
    ".secret-key",
    ".admin-password",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".schemathesis",
    "node_modules",
}


def shell_lines() -> list[str]:
    """Every line of the README's sh code blocks, as a reader would paste it."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README, re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def manage_commands() -> list[str]:
    return [line for line in shell_lines() if re.match(r"\S*python\S* manage\.py ", line)]


def not_copied(folder: str, names: list[str]) -> set[str]:
    ignored = {name for name in names if name in NOT_COPIED or name.endswith(".egg-info")}
    ignored |= {name for name in names if name.startswith("db.sqlite3")}
    if Path(folder) == ROOT / "bench":
        ignored.add("results")
    return ignored


@pytest.fixture(scope="module")
def after_make_run(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A project folder as `make run` leaves it, and the environment of a fresh shell there."""
    work = tmp_path_factory.mktemp("readme")
    project = work / "project"
    shutil.copytree(ROOT, project, ignore=not_copied, symlinks=True)
    (project / ".venv").symlink_to(ROOT / ".venv")
    (project / ".secret-key").write_text("readme-test-secret-key-as-make-run-writes-one\n")
    env = {
        name: value
        for name, value in os.environ.items()
        # pytest's own settings and make test's SECRET_KEY: manage.py must find its key itself.
        if name not in {"SECRET_KEY", "DJANGO_SETTINGS_MODULE", "REDIS_URL", "PORT"}
    }
    env["DATABASE_URL"] = f"sqlite:///{work / 'db.sqlite3'}"
    migrated = run(".venv/bin/python manage.py migrate --noinput -v0", project, env)
    assert migrated.returncode == 0, migrated.stderr
    return project, env


def run(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    # eraserecipient asks before it erases; the operator answers yes.
    return subprocess.run(
        ["bash", "-c", line.replace(PLACEHOLDER, DEMO_REFERENCE)],
        cwd=cwd,
        env=env,
        input="y\n",
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readme_shows_every_operating_command_with_the_projects_python():
    commands = manage_commands()
    assert {line.split()[2] for line in commands} >= OPERATING
    assert all(line.startswith(".venv/bin/python manage.py ") for line in commands)


def test_each_operating_command_works_as_printed(after_make_run):
    project, env = after_make_run
    failures = []
    for line in manage_commands():
        result = run(line, project, env)
        if result.returncode != 0:
            failures.append(f"$ {line}\n(exit {result.returncode})\n{result.stderr[-2000:]}")
    assert not failures, "\n\n".join(failures)
    # They worked on the database the portal serves, with make run's key.
    assert (project / ".admin-password").exists()
    assert not (project / "db.sqlite3").exists()


def test_the_system_python_is_told_which_python_to_use(after_make_run):
    project, env = after_make_run
    result = run("python3 manage.py help", project, env)
    if result.returncode == 0:
        pytest.skip("this machine's python3 has Django installed")
    assert ".venv/bin/python manage.py" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.browser
@pytest.mark.skipif(not browser.available(), reason=browser.MISSING)
def test_make_screenshots_works_as_printed_while_the_demo_is_served(
    after_make_run, live_server, transactional_db
):
    project, env = after_make_run
    (line,) = [line for line in shell_lines() if line.startswith("make screenshots")]
    # make must find the dev extras installed: otherwise it would install this project's copy
    # into the shared venv.
    if run("make -q .venv/.dev", project, env).returncode != 0:
        pytest.skip("the venv's dev extras are older than pyproject.toml: run make test")
    call_command("seed_demo", verbosity=0)
    shutil.rmtree(project / "docs" / "screenshots")
    port = live_server.url.rsplit(":", 1)[1]
    result = run(line, project, {**env, "PORT": port})
    assert result.returncode == 0, result.stdout + result.stderr
    shots = sorted(path.name for path in (project / "docs" / "screenshots").glob("*.png"))
    assert shots == [
        f"tracking-{lang}-{width}.png" for lang in ("de", "en") for width in (1280, 360)
    ]
