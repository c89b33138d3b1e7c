"""The benchmarks' own logic, without wrk, gunicorn or a database: every bench module imports,
wrk's report is read with its errors, a figure measured with errors is a miss, and any miss
makes a script's exit status 1."""

import base64
import copy
import importlib
import math
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

BENCH = Path(__file__).resolve().parent.parent / "bench"
# bench/urls.py and bench/wsgi.py are the package gunicorn serves (bench.wsgi); the others are
# scripts, which import each other as top-level modules (`from common import ...`), as they do
# when run as `python bench/x.py`.
SCRIPTS = sorted(
    path.stem for path in BENCH.glob("*.py") if path.stem not in {"__init__", "urls", "wsgi"}
)


def script(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


REPORT = """\
Running 10s test @ http://127.0.0.1:8765/track/EC-BEN-000-001/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.30ms    2.89ms  19.78ms   87.54%
    Req/Sec   694.10    259.00     1.27k    70.00%
  Latency Distribution
     50%    2.25ms
     75%    4.11ms
     90%    7.06ms
     99%   15.51ms
  13767 requests in 10.01s, 6.37MB read
{extra}Requests/sec:   1375.32
Transfer/sec:    651.60KB
{checked}"""


def report(extra: str = "", checked: str = "Unexpected statuses: 0 (last 0)\n") -> str:
    return REPORT.format(extra=extra, checked=checked)


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_bench_script_imports(name):
    module = script(name)

    assert module.__doc__
    assert name == "common" or callable(module.main)


def test_the_benchmark_app_imports_without_changing_the_tests_settings():
    before = (settings.ROOT_URLCONF, copy.deepcopy(settings.TEMPLATES))
    # bench/wsgi.py points ROOT_URLCONF at bench/urls.py and adds a template folder.
    with override_settings(ROOT_URLCONF=before[0], TEMPLATES=copy.deepcopy(before[1])):
        wsgi = importlib.import_module("bench.wsgi")
        urls = importlib.import_module("bench.urls")

    assert callable(wsgi.application)
    assert [str(pattern.pattern) for pattern in urls.urlpatterns][0] == "bench/bare/"
    assert before == (settings.ROOT_URLCONF, settings.TEMPLATES)


def test_it_reads_wrks_report():
    result = script("common").parse_wrk(report())

    assert result.requests == 13767
    assert result.requests_per_second == 1375.32
    assert (result.p50_ms, result.p99_ms, result.max_ms) == (2.25, 15.51, 19.78)
    assert result.seconds == pytest.approx(10.01)
    assert (result.errors, result.last_unexpected) == (0, 0)


def test_non_2xx_answers_and_socket_errors_count_as_errors():
    result = script("common").parse_wrk(
        report(
            extra="  Socket errors: connect 0, read 2, write 0, timeout 3\n"
            "  Non-2xx or 3xx responses: 12\n",
            checked="Unexpected statuses: 12 (last 503)\n",
        )
    )

    # The 12 answers of 503 are counted once, by the status check, not again as wrk's non-2xx.
    assert result.errors == 17
    assert result.last_unexpected == 503
    assert "errors 17 (last status 503)" in str(result)


def test_a_200_where_a_304_is_expected_is_an_error_wrk_itself_misses():
    result = script("common").parse_wrk(report(checked="Unexpected statuses: 40 (last 200)\n"))

    assert result.errors == 40


def test_a_report_without_the_status_check_or_without_answers_is_refused():
    common = script("common")

    with pytest.raises(RuntimeError, match="without the status check"):
        common.parse_wrk(report(checked=""))
    with pytest.raises(RuntimeError, match="no answer"):
        common.parse_wrk(report().replace("13767 requests", "0 requests"))
    with pytest.raises(RuntimeError, match="measured nothing"):
        common.parse_wrk("unable to connect to 127.0.0.1:8765 Connection refused\n")


def test_the_status_check_expects_the_status_asked_for():
    lua = script("common").STATUS_LUA.format(expected=304)

    assert "local expected = 304\n" in lua
    assert "local threads = {}\n" in lua
    assert 'io.write(string.format("Unexpected statuses: %d (last %d)\\n", total, last))' in lua


def test_the_single_event_script_leaves_setup_to_the_status_check():
    single = script("ingest_bench").SINGLE_EVENT_LUA.format(legs=10, key="k", run=1)

    assert "request = function()" in single
    assert "function setup" not in single
    assert "function response" not in single
    assert "function done" not in single


def test_verdict():
    verdict = script("common").verdict

    assert verdict(600, 500) == "met"
    assert verdict(400, 500) == "NOT MET"
    assert verdict(80, 100, higher_is_better=False) == "met"
    assert verdict(600, 500, errors=3) == "NOT MET (3 errors)"
    assert verdict(math.nan, 5.0, higher_is_better=False) == "NOT MET"


def test_a_script_with_every_target_met_exits_0(capsys):
    card = script("common").Scorecard()
    card.target("rate", 600, 500)
    card.require("stored", True)

    assert card.finish() == 0
    assert capsys.readouterr().out.strip() == "All 2 targets met."


def test_any_miss_or_error_makes_the_exit_status_1(capsys):
    card = script("common").Scorecard()

    assert card.target("rate", 600, 500, errors=1) == "NOT MET (1 error)"
    assert card.target("latency", 2.0, 1.0, higher_is_better=False) == "NOT MET"
    assert card.require("stored", True) == "met"
    assert card.finish() == 1
    assert capsys.readouterr().out.strip() == "MISSED 2 of 3 targets: rate; latency"


def test_combined_windows_keep_every_error():
    common, http_bench = script("common"), script("http_bench")
    windows = [
        common.WrkResult(1000, 2.0, 9.0, 5000, 0, 20.0, 5.0, 0),
        common.WrkResult(800, 3.0, 12.0, 4000, 2, 30.0, 5.0, 500),
    ]

    combined = http_bench.combine(windows)

    assert (combined.requests, combined.errors, combined.seconds) == (9000, 2, 10.0)
    assert (combined.requests_per_second, combined.p99_ms, combined.max_ms) == (900, 12.0, 30.0)
    assert combined.last_unexpected == 500


def plan(*lines: str) -> dict:
    return {"sql": "SELECT ...", "plan": list(lines)}


def test_a_sequential_scan_of_a_large_or_unknown_table_is_a_miss():
    scale = script("scale_bench")
    explained = {
        "sizes": {"tracking_consignment": 1_000_001, "tracking_carrier": 2, "fresh": -1},
        "requests": [
            {
                "name": "tracking page",
                "statements": [
                    plan(
                        "Nested Loop  (cost=0.85..16.90 rows=1 width=8)",
                        "  ->  Index Scan using c_ref on tracking_consignment c  (cost=0.42..8)",
                        "  ->  Seq Scan on tracking_carrier  (cost=0.00..1.02 rows=2 width=4)",
                    )
                ],
            },
            {
                "name": "carrier batch",
                "statements": [
                    plan("Seq Scan on tracking_consignment  (cost=0.00..20000.01 rows=1)"),
                    plan("Parallel Seq Scan on fresh  (cost=0.00..1.01 rows=1 width=4)"),
                ],
            },
        ],
    }

    assert scale.sequential_scans(explained) == [
        "carrier batch, statement 1: tracking_consignment (1,000,001 rows)",
        "carrier batch, statement 2: fresh (-1 rows)",
    ]


def test_plan_lines_name_the_table_they_read():
    scanned_table = script("scale_bench").scanned_table

    assert scanned_table("  ->  Index Only Scan using i on tracking_package p") == (
        "Index Only Scan",
        "tracking_package",
    )
    assert scanned_table("Bitmap Heap Scan on tracking_trackingevent") == (
        "Bitmap Heap Scan",
        "tracking_trackingevent",
    )
    assert scanned_table("  ->  Bitmap Index Scan on tracking_event_identity") is None
    assert scanned_table("Function Scan on unnest u") is None


EXPECTED = {"/track/X/": 200, "/track/X/?poll": 304, "/healthz": 200}


def drill_log(*extra):
    """Stopped at 10, started at 20: everything as it should be, plus `extra` entries."""
    log = [(5.0, name, status, 0.01) for name, status in EXPECTED.items()]
    log += [(10.05, "/track/X/?poll", 304, 0.01)]  # from a worker's memory, just after the stop
    log += [(10.2, name, 503, 0.01) for name in EXPECTED]
    log += [(16.0, name, 503, 0.01) for name in EXPECTED]
    log += [(20.5, name, status, 0.01) for name, status in EXPECTED.items()]
    return sorted([*log, *extra])


def test_an_outage_answered_as_it_should_be_misses_nothing(capsys):
    common, drill = script("common"), script("fault_drill")
    card = common.Scorecard()

    drill.judge_outage(card, drill_log(), EXPECTED, stopped=10.0, started=20.0)

    assert card.missed == []
    assert card.checked == 10


@pytest.mark.parametrize(
    ("entry", "missed"),
    [
        ((15.0, "/track/X/?poll", 304, 0.01), ["only 503 once the outage is known"]),
        (
            (12.0, "/track/X/", 500, 0.01),
            ["only expected answers or 503 during the outage", "never a 500"],
        ),
        ((12.0, "/healthz", 0, 0.01), ["only expected answers or 503 during the outage"]),
        ((18.0, "/healthz", 503, 4.0), ["every answer within 3 s during the outage"]),
        ((21.0, "/track/X/?poll", 200, 0.01), ["only expected answers or 503 after the restart"]),
        ((4.0, "/track/X/?poll", 200, 0.01), ["answers before the stop as expected"]),
    ],
)
def test_each_wrong_answer_in_the_outage_is_a_miss(capsys, entry, missed):
    common, drill = script("common"), script("fault_drill")
    card = common.Scorecard()

    drill.judge_outage(card, drill_log(entry), EXPECTED, stopped=10.0, started=20.0)

    assert card.missed == missed


def test_an_endpoint_that_never_recovers_is_a_miss(capsys):
    common, drill = script("common"), script("fault_drill")
    card = common.Scorecard()
    log = [entry for entry in drill_log() if not (entry[0] > 20 and entry[1] == "/healthz")]

    drill.judge_outage(card, log, EXPECTED, stopped=10.0, started=20.0)

    assert card.missed == ["/healthz answers 200 within 5 s of the restart"]


def test_run_all_runs_every_script_and_exits_1_if_any_did(monkeypatch, capsys):
    run_all = script("run_all")
    statuses = iter([0, 1, 0, 0])
    ran = []

    def run(name, *args):
        ran.append((name, *args))
        return next(statuses)

    monkeypatch.setattr(run_all, "run", run)

    assert run_all.main(["--quick"]) == 1
    assert len(ran) == 4
    assert "Failed or missed a target: bench/http_bench.py --postgres" in capsys.readouterr().out


def test_run_all_exits_0_when_every_script_does(monkeypatch, capsys):
    run_all = script("run_all")
    ran = []
    monkeypatch.setattr(run_all, "run", lambda *command: ran.append(command) or 0)

    assert run_all.main([]) == 0
    assert ran[-1] == ("scale_bench.py",)


def test_percentiles_are_nearest_rank():
    percentile = script("webhook_bench").percentile
    latencies = [float(n) for n in range(1, 201)]  # 200 posts: 1 s, 2 s, ... 200 s

    assert percentile(list(reversed(latencies)), 50) == 100.0
    assert percentile(latencies, 99) == 198.0
    assert percentile([0.4], 99) == 0.4
    assert math.isnan(percentile([], 50))


def test_budgets_print_pass_or_fail():
    pass_fail = script("webhook_bench").pass_fail

    assert pass_fail("met") == "PASS"
    assert pass_fail("NOT MET") == "FAIL"
    assert pass_fail("NOT MET (3 errors)") == "FAIL (3 errors)"


def signed(secret: str, webhook_id: str, body: str) -> dict:
    import datetime as dt

    from standardwebhooks.webhooks import Webhook

    now = dt.datetime.now(dt.UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
        "Content-Type": "application/json",
    }


def test_the_receiver_verifies_each_request_against_its_paths_secret():
    import urllib.error
    import urllib.request

    bench = script("webhook_bench")
    secret, other = (
        "whsec_" + base64.b64encode(key).decode() for key in (b"a" * 24, b"another key" * 3)
    )
    receiver = bench.Receiver()
    receiver.start()
    try:
        url = receiver.url("shop")
        receiver.expect(url, secret)
        answers = []
        for headers in [signed(secret, "msg_1", "{}"), signed(other, "msg_2", "{}"), {}]:
            request = urllib.request.Request(url, data=b"{}", headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    answers.append(response.status)
            except urllib.error.HTTPError as error:
                answers.append(error.code)
    finally:
        receiver.stop()

    assert answers == [204, 401, 401]
    assert [(a.webhook_id, a.verified) for a in receiver.at(url)] == [
        ("msg_1", True),
        ("msg_2", False),
        ("", False),
    ]


def arrival(webhook_id: str, body: str, verified: bool = True):
    return script("webhook_bench").Arrival(0.0, "/hooks/drill", webhook_id, body.encode(), verified)


def test_the_drill_counts_repeats_missing_and_unknown_messages():
    drill = script("webhook_drill")
    recorded = {"msg_1": '{"a":1}', "msg_2": '{"a":2}', "msg_3": '{"a":3}'}
    arrivals = [
        arrival("msg_1", '{"a":1}'),
        arrival("msg_1", '{"a":1}'),  # a redelivery after a worker was killed: allowed
        arrival("msg_2", '{"a":2}'),
        arrival("msg_2", '{"a":2, "changed":true}'),  # a repeat with another body
        arrival("msg_3", '{"a":3}', verified=False),  # msg_3 never arrived signed
        arrival("msg_9", "{}"),  # never recorded
    ]

    counts = drill.tally(recorded, arrivals)

    assert counts == drill.Tally(
        recorded=3, delivered=2, duplicates=2, changed=1, missing=1, unknown=1, bad_signatures=1
    )


def test_a_drill_with_duplicates_only_misses_nothing(capsys):
    common, drill = script("common"), script("webhook_drill")
    card = common.Scorecard()
    recorded = {"msg_1": "{}", "msg_2": "{}"}

    drill.judge(
        card, drill.tally(recorded, [arrival("msg_1", "{}")] * 3 + [arrival("msg_2", "{}")])
    )

    assert card.missed == []
    assert "duplicates received              2" in capsys.readouterr().out


def test_each_loss_in_the_drill_is_a_miss(capsys):
    common, drill = script("common"), script("webhook_drill")
    card = common.Scorecard()
    counts = drill.Tally(
        recorded=3, delivered=2, duplicates=0, changed=1, missing=1, unknown=1, bad_signatures=1
    )

    drill.judge(card, counts)

    assert card.missed == [
        "every repeat carries the recorded body",
        "no message missing",
        "no request for a message never recorded",
        "every signature verifies",
    ]
