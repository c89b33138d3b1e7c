# The two commands a fresh machine needs: `make run` and `make test`.
# Both build their own virtual environment in .venv from pyproject.toml.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SECRET_FILE := .secret-key

.PHONY: run test lint format bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.runtime

# The Nu Html Checker for tests/pages/test_validity.py: npm's vnu-jar, run by the machine's
# Java and kept in the venv (so `make clean` removes it). --ignore-scripts: its postinstall
# would fetch a Java runtime, and the machine has one.
VNU_VERSION := 26.9.27
$(VENV)/.vnu-$(VNU_VERSION): | $(BIN)/python
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
			--prefix $(VENV)/vnu vnu-jar@$(VNU_VERSION) && touch $@; \
	else \
		echo "## npm is missing: THE HTML VALIDATION TEST WILL BE SKIPPED (apt-get install npm) ##"; \
	fi

$(SECRET_FILE):
	@umask 077 && $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

# collectstatic copies, hashes and compresses about 1,250 files (the admin's and the API docs'
# too), so it runs only when something under static/ or an installed package changed; its
# manifest is the stamp. (manage.py reads .secret-key.)
STATIC_MANIFEST := staticfiles/staticfiles.json
$(STATIC_MANIFEST): $(VENV)/.runtime $(shell find static) | $(SECRET_FILE)
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@touch $@

## run: set up, migrate, seed the demo and serve the portal on http://127.0.0.1:$(PORT), with a
## background worker (webhooks, emails) beside it
run: $(VENV)/.runtime $(SECRET_FILE) $(STATIC_MANIFEST)
	@export SECRET_KEY="$$(cat $(SECRET_FILE))"; \
	set -e; \
	$(BIN)/python manage.py migrate --noinput; \
	$(BIN)/python manage.py seed_demo; \
	$(BIN)/python manage.py ensureadmin; \
	$(BIN)/python manage.py sweep > /dev/null; \
	$(BIN)/python manage.py db_worker --queue-name '*' --verbosity 1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	echo "Serving on http://127.0.0.1:$(PORT)/  (back office: /admin/, API docs: /api/docs/; background worker: pid $$worker)"; \
	PORT=$(PORT) $(BIN)/gunicorn config.wsgi:application -c gunicorn.conf.py

## test: set up, lint and run the whole test suite (SQLite, or DATABASE_URL when set)
test: $(VENV)/.dev $(VENV)/.vnu-$(VNU_VERSION)
	@./scripts/ensure-chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=test-only-not-secret $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## screenshots: the README's screenshots (docs/screenshots/) of the demo `make run` serves
screenshots: $(VENV)/.dev
	@./scripts/ensure-chromium
	$(BIN)/python scripts/screenshots.py --base http://127.0.0.1:$(PORT)

## bench: the performance figures of the README (needs wrk: apt-get install wrk; see the README's Performance section)
bench: $(VENV)/.dev
	SECRET_KEY=bench-only-not-secret $(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
