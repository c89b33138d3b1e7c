"""Rows of some models in the benchmark's database, as JSON: what was really stored.

    DATABASE_URL=... python bench/count_rows.py tracking.TrackingEvent

Run by the benchmarks (common.count_rows) in a process of their own. A model is named by its
label and found through Django's app registry, so nothing here depends on where tracking/ keeps
its models.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import django
from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="+", metavar="app.Model")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    print(json.dumps({label: apps.get_model(label).objects.count() for label in args.labels}))


if __name__ == "__main__":
    main()
