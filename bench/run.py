"""``make bench``: the hot paths measured against their physical limit, side by side.

Run as ``python -m bench.run`` (the Makefile does). Every benchmark prints a table and a closing
``RATIO`` line; a machine is noisy, so variants are rotated within each round and the figures
are medians over rounds of per-round ratios. Results also go to ``.local/bench/results.json``
and, with matplotlib installed, ``.local/bench/http.png``.

Environment: ``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/
continuum_bench``; the scale-10 data set lives in the same name with ``_s10``), ``REDIS_URL``,
``BENCH_ROUNDS`` (5), ``BENCH_SECONDS`` (seconds per wrk run, 2), ``BENCH_ONLY`` (a comma list
of: http, queries, reports, plan, dispatch, pooler, series).
"""

import contextlib
import io
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from config.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".local" / "bench"
PYTHON = sys.executable
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/continuum_bench")
DB10_URL = DB_URL.rsplit("/", 1)[0] + "/" + DB_URL.rsplit("/", 1)[1].split("?")[0] + "_s10"
# Its own Redis database: the benchmark worker must not take anybody else's tasks.
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ROUNDS = max(5, int(os.environ.get("BENCH_ROUNDS", "5")))
SECONDS = int(os.environ.get("BENCH_SECONDS", "2"))
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
PAGE_SIZES = (10, 50, 200)

os.environ["DATABASE_URL"] = DB_URL
os.environ["REDIS_URL"] = REDIS
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

RESULTS: dict = {}


def wanted(name: str) -> bool:
    return not ONLY or name in ONLY


def env_for(url: str, **extra: str) -> dict:
    return {**os.environ, "DATABASE_URL": url, **extra}


def say(text: str = "") -> None:
    print(text, flush=True)


def table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header, *[[f"{c:.2f}" if isinstance(c, float) else str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    say(f"\n== {title}")
    for n, r in enumerate(cells):
        say("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
        if n == 0:
            say("  ".join("-" * w for w in widths))


def ratio_line(name: str, value: float, target: str, ok: bool) -> None:
    line = f"RATIO {name}: {value:.2f} (target {target}) {'OK' if ok else 'MISSED'}"
    RESULTS.setdefault("ratios", []).append(line)
    say(line)


def median(values) -> float:
    return statistics.median(values)


# Set-up ---------------------------------------------------------------------------------------


def prepare(url: str, scale: int) -> None:
    import psycopg2

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    manage = [PYTHON, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], check=True, env=env_for(url), cwd=ROOT)  # noqa: S603
    subprocess.run(  # noqa: S603
        [*manage, "bench_generate", "--scale", str(scale), "--if-needed"],
        check=True,
        env=env_for(url),
        cwd=ROOT,
    )
    # Every run starts from a vacuumed, analyzed data set, as a maintained database is: what
    # an earlier run left dead (the planning benchmark's rows) would otherwise slow the
    # planner of every statement near it (dead index entries at a column's end: 15 ms of
    # planning for the session list seen after repeated runs, 0.7 ms vacuumed).
    vacuum = psycopg2.connect(url)
    vacuum.autocommit = True
    with vacuum.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    vacuum.close()


@contextlib.contextmanager
def gunicorn(url: str, port: int, workers: int = 2, **extra_env: str):
    process = subprocess.Popen(  # noqa: S603
        [
            PYTHON,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--config",
            "python:config.gunicorn",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=env_for(url, **extra_env),
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema/", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def tokens() -> dict[str, str]:
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    users = get_user_model().objects
    return {
        name: str(AccessToken.for_user(users.get(username=f"bench-{name}")))
        for name in ("patient", "clinician", "supervisor")
    }


def drain(url: str, token: str) -> None:
    """Wait until the server has worked off what an earlier run left queued.

    When wrk stops, the requests of its open connections are still in gunicorn's accept queue
    (up to 14 behind the 2 in work after a run at 16 connections), and a sync worker serves
    each one in full. A run that starts then measures that queue first: a run at 2 connections
    straight after one at 16 had its p99 at 80 ms instead of 18 (sessions, page 10), most of it
    the earlier run's last requests, and more so after the slower variant. One request sent now
    waits behind all of them in the queue (it is first in, first out); once it is answered, the
    other worker has at most the request it took before this one left, hence the pause.
    """
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        response.read()
    time.sleep(0.2)


def wrk(url: str, token: str, connections: int, seconds: int = SECONDS) -> dict:
    """One wrk run on an idle server: req/s and p99 latency (ms)."""
    drain(url, token)
    threads = min(2, connections)
    output = subprocess.run(  # noqa: S603
        [  # noqa: S607
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    if rps == 0:
        raise RuntimeError(f"{url}: no answer\n{output}")
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses\n{output}")
    # Requests past wrk's 2-second timeout are not counted as answered: on a loaded machine
    # they, not the code, decide a run's req/s.
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", output)
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale,
        "timeouts": int(timeouts.group(1)) if timeouts else 0,
    }


# HTTP lists against their baselines -----------------------------------------------------------


def bench_http(base: str, tok: dict) -> None:
    import datetime

    from django.utils import timezone

    today = timezone.localdate()
    window = f"start={today}&end={today + datetime.timedelta(days=60)}"
    endpoints = {
        "me/schedule": (
            tok["patient"],
            f"/api/v1/me/schedule/?{window}&page_size={{n}}",
            f"/bench/baseline/me/schedule/?{window}&page_size={{n}}",
        ),
        "sessions": (
            tok["clinician"],
            "/api/v1/sessions/?page_size={n}",
            "/bench/baseline/sessions/?page_size={n}",
        ),
    }
    runs: dict = {}
    for token, app, baseline in endpoints.values():
        for n in PAGE_SIZES:  # warm-up (connections, caches)
            wrk(base + app.format(n=n), token, 2, 1)
            wrk(base + baseline.format(n=n), token, 2, 1)
    for r in range(ROUNDS):
        for name, (token, app, baseline) in endpoints.items():
            for n in PAGE_SIZES:
                variants = [("app", app), ("baseline", baseline)]
                if r % 2:
                    variants.reverse()
                for variant, path in variants:
                    for c in (16, 2):
                        runs.setdefault((name, n, variant, c), []).append(
                            wrk(base + path.format(n=n), token, c)
                        )
    rows, worst_rps, worst_p99 = [], 9.0, 0.0
    for name in endpoints:
        for n in PAGE_SIZES:
            app16, base16 = runs[(name, n, "app", 16)], runs[(name, n, "baseline", 16)]
            app2, base2 = runs[(name, n, "app", 2)], runs[(name, n, "baseline", 2)]
            rps_ratio = median(a["rps"] / b["rps"] for a, b in zip(app16, base16, strict=True))
            p99_ratio = median(a["p99_ms"] / b["p99_ms"] for a, b in zip(app2, base2, strict=True))
            worst_rps, worst_p99 = min(worst_rps, rps_ratio), max(worst_p99, p99_ratio)
            rows.append(
                [
                    name,
                    n,
                    median(a["rps"] for a in app16),
                    median(b["rps"] for b in base16),
                    rps_ratio,
                    median(a["p99_ms"] for a in app2),
                    median(b["p99_ms"] for b in base2),
                    p99_ratio,
                ]
            )
    table(
        f"HTTP lists vs raw SQL + orjson baseline (gunicorn 2 sync workers; {ROUNDS} rounds × "
        f"{SECONDS}s; medians)",
        ["endpoint", "page", "req/s c16", "base c16", "ratio", "p99ms c2", "base p99", "ratio"],
        rows,
    )
    RESULTS["http"] = rows
    # Each run's figures, for the spread behind the medians.
    RESULTS["http_runs"] = [
        {"endpoint": name, "page": n, "variant": variant, "connections": c, "runs": measured}
        for (name, n, variant, c), measured in runs.items()
    ]
    ratio_line("lists req/s at c16 vs baseline (worst)", worst_rps, ">= 0.75", worst_rps >= 0.75)
    ratio_line("lists p99 at c2 vs baseline (worst)", worst_p99, "<= 1.5", worst_p99 <= 1.5)


# Query counts ---------------------------------------------------------------------------------


def bench_queries(tok: dict) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = sorted(
        path
        for path, ops in schema["paths"].items()
        if "get" in ops
        and "{" not in path
        and "page_size" in {p["name"] for p in ops["get"].get("parameters", [])}
    )
    client = Client()
    rows, constant, schedule = [], True, None
    for path in paths:
        token = tok["patient"] if path.startswith("/api/v1/me/") else tok["supervisor"]
        counts = []
        for n in PAGE_SIZES:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path, {"page_size": n}, HTTP_AUTHORIZATION=f"Bearer {token}")
            status = response.status_code
            counts.append(len(captured) if status == 200 else f"HTTP {status}")
        same = len(set(counts)) == 1
        constant &= same
        if path == "/api/v1/me/schedule/":
            schedule = counts[-1]
        rows.append([path, *counts, "yes" if same else "NO"])
    table(
        "Queries per request (real JWT auth, audit included)",
        ["endpoint", *[f"page {n}" for n in PAGE_SIZES], "constant"],
        rows,
    )
    RESULTS["queries"] = rows
    ratio_line(
        "list endpoints with a constant query count",
        sum(r[-1] == "yes" for r in rows) / len(rows),
        "1.00",
        constant,
    )
    ratio_line(
        "me/schedule queries per request", float(schedule or 0), "<= 4", (schedule or 99) <= 4
    )


# Reports at scale 1 and 10 --------------------------------------------------------------------


def bench_reports(base1: str, base10: str, tok1: dict, tok10: dict) -> None:
    import datetime

    from django.utils import timezone

    today = timezone.localdate()
    # name -> (path, wrk connections): a page answers in tens of milliseconds and is driven at
    # 16 connections; the UR queue, a whole clinic's worklist of a few hundred rows in ~250 ms,
    # at 2 (one a worker), since 16 would queue each request past wrk's 2-second timeout.
    paths = {
        "census 30 days": (
            f"/api/v1/reports/census/?start={today}"
            f"&end={today + datetime.timedelta(days=29)}&page_size=20",
            16,
        ),
        "step-down": ("/api/v1/reports/step-down/?page_size=50", 16),
        # A reviewer works one clinic's queue (the first clinic's at both scales).
        "UR queue": ("/api/v1/ur/queue/?clinic=1", 2),
        # The admissions report of one clinic (the first at both scales; an admissions desk
        # works its clinic's inquiries) over the last twelve months: one query. Every clinic's
        # report counts every clinic's inquiries and lists each clinic's sources by month: ten
        # times the answer at scale 10, which no scale ratio measures.
        "admissions": ("/api/v1/reports/admissions/?clinic=1", 16),
        # The outcomes report of one clinic (the first at both scales) over the last three
        # months (a quarter's review): four queries, its stays and responses counted in Python,
        # so at 2 connections like the UR queue (a year's takes over a second).
        "outcomes": (
            "/api/v1/reports/outcomes/?clinic=1"
            f"&start={(today.replace(day=1) - datetime.timedelta(days=59)):%Y-%m}"
            f"&end={today:%Y-%m}",
            2,
        ),
        # The continuity measure of one clinic (the first at both scales) over the last twelve
        # months of discharges, as payers ask for it: two queries (the stays with their first
        # visit, visit elsewhere and readmission as correlated subqueries), the patients listed
        # and their reading audited (the supervisor's answer).
        "continuity": ("/api/v1/reports/continuity/?clinic=1", 2),
    }
    for path, _connections in paths.values():
        wrk(base1 + path, tok1["supervisor"], 2, 1)
        wrk(base10 + path, tok10["supervisor"], 2, 1)
    runs: dict = {}
    for r in range(ROUNDS):
        order = [("1", base1, tok1), ("10", base10, tok10)]
        if r % 2:
            order.reverse()
        for name, (path, connections) in paths.items():
            for scale, base, tok in order:
                runs.setdefault((name, scale), []).append(
                    wrk(
                        base + path,
                        tok["supervisor"],
                        connections,
                        SECONDS * (2 if connections < 16 else 1),
                    )
                )
    rows, worst = [], 9.0
    for name in paths:
        s1, s10 = runs[(name, "1")], runs[(name, "10")]
        ratio = median(b["rps"] / a["rps"] for a, b in zip(s1, s10, strict=True))
        worst = min(worst, ratio)
        rows.append(
            [
                name,
                median(a["rps"] for a in s1),
                median(b["rps"] for b in s10),
                ratio,
                f"{sum(a['timeouts'] for a in s1)}/{sum(b['timeouts'] for b in s10)}",
            ]
        )
    table(
        "Reports, supervisor of every clinic (c16, the UR queue c2; scale 1 = 1 clinic, "
        "10 = 10 clinics)",
        ["report", "req/s scale 1", "req/s scale 10", "ratio", "timeouts 1/10"],
        rows,
    )
    RESULTS["reports"] = rows
    # Each round's figures, for the spread behind the medians.
    RESULTS["reports_runs"] = [
        {"report": name, "scale": scale, "runs": measured}
        for (name, scale), measured in runs.items()
    ]
    ratio_line("reports scale-10 / scale-1 throughput (worst)", worst, ">= 0.8", worst >= 0.8)


# Reminder planning against COPY ---------------------------------------------------------------

PLAN_ENTRIES = 100_000
REMINDER_COLUMNS = (
    "session_id, patient_id, roster_entry_id, kind, offset_minutes, channel, scheduled_for, "
    "status, attempts, last_error, provider_message_id, updated_at, created_at"
)


def bench_plan() -> None:
    from django.db import connection, transaction

    from scheduling import reminders

    # 100,000 new roster entries on future sessions (set-up, not timed), committed so that the
    # reminder table can be vacuumed between rounds; deleted at the end.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO scheduling_rosterentry (session_id, patient_id, response, created_at)
            SELECT s.id, p.id, 'none', now()
            FROM (SELECT id, clinic_id FROM scheduling_session
                  WHERE starts_at > now() + interval '1 day' AND status = 'scheduled'
                  ORDER BY starts_at LIMIT 4000) s
            JOIN LATERAL (SELECT id FROM patients_patient
                          WHERE clinic_id = s.clinic_id AND id > 1000
                          ORDER BY (id * 7 + s.id) %% 997 LIMIT 26) p ON true
            ON CONFLICT DO NOTHING
            RETURNING id
            """,
            [],
        )
        ids = [row[0] for row in cursor.fetchall()][:PLAN_ENTRIES]

    def vacuum():
        # Each round's rows are rolled back: without a vacuum their dead versions stay in the
        # indexes, and the next round's existence checks wade through them (no real term's
        # new roster entries have dead reminders).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE scheduling_reminder")

    copy_buffer = io.BytesIO()
    times = {"app": [], "copy": []}
    planned = 0
    try:
        vacuum()
        for r in range(ROUNDS):
            # Round 0 (even) runs the app first: the COPY's rows are the ones it wrote.
            order = ["app", "copy"] if r % 2 == 0 else ["copy", "app"]
            for variant in order:
                with transaction.atomic(), connection.cursor() as cursor:
                    started = time.perf_counter()
                    if variant == "app":
                        planned = reminders.plan_for_entries(ids)
                    else:
                        copy_buffer.seek(0)
                        cursor.copy_expert(
                            f"COPY scheduling_reminder ({REMINDER_COLUMNS}) FROM STDIN",
                            copy_buffer,
                        )
                    times[variant].append(time.perf_counter() - started)
                    if r == 0 and variant == "app":
                        cursor.copy_expert(
                            f"COPY (SELECT {REMINDER_COLUMNS} FROM scheduling_reminder "  # noqa: S608
                            f"WHERE roster_entry_id = ANY(ARRAY{ids})) TO STDOUT",
                            copy_buffer,
                        )
                    transaction.set_rollback(True)
                vacuum()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM scheduling_rosterentry WHERE id = ANY(%s)", [ids])
            cursor.execute("VACUUM ANALYZE scheduling_rosterentry")
        vacuum()
    ratios = [a / c for a, c in zip(times["app"], times["copy"], strict=True)]
    rows = [
        [f"plan_for_entries({len(ids)} entries)", planned, median(times["app"])],
        [f"COPY of the same {planned} rows", planned, median(times["copy"])],
    ]
    table("Reminder planning vs COPY (seconds, medians)", ["variant", "rows", "seconds"], rows)
    RESULTS["plan"] = rows
    value = median(ratios)
    ratio_line("reminder planning / COPY", value, "<= 1.6", value <= 1.6)


# Reminder dispatch end to end against one set-based pass --------------------------------------

DISPATCH_ROWS = 10_000


def _sessions_opened(cursor) -> int:
    cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
    return cursor.fetchone()[0]


def _due_reminders() -> list[int]:
    """``DISPATCH_ROWS`` due reminders, the only ones in the database; their ids."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM scheduling_reminder")
        # One due reminder per roster entry of future sessions (the patient's first channel).
        cursor.execute(
            """
            INSERT INTO scheduling_reminder (session_id, patient_id, roster_entry_id, kind,
                offset_minutes, channel, scheduled_for, status, attempts, last_error,
                provider_message_id, updated_at)
            SELECT r.session_id, r.patient_id, r.id, 'reminder', 1440, p.reminder_channels[1],
                now() - interval '1 minute', 'pending', 0, '', '', now()
            FROM scheduling_rosterentry r
            JOIN scheduling_session s ON s.id = r.session_id
            JOIN patients_patient p ON p.id = r.patient_id
            WHERE s.starts_at > now() + interval '1 hour' AND s.status = 'scheduled'
              AND r.response <> 'declined'
            ORDER BY s.starts_at, r.id
            LIMIT %s
            RETURNING id
            """,
            [DISPATCH_ROWS],
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("ANALYZE scheduling_reminder")
        # The benchmarks before this one (and generating scale 10) wrote gigabytes of WAL: a
        # checkpoint now, not during a round, and the warm-up round pays the page images the
        # first change of each page after it writes to the WAL.
        cursor.execute("CHECKPOINT")
    return ids


def _reset_reminders(ids: list[int]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scheduling_reminder SET status = 'pending', attempts = 0,"
            " claimed_at = NULL, sent_at = NULL, provider_message_id = '', last_error = '',"
            " scheduled_for = now() - interval '1 minute' WHERE id = ANY(%s)",
            [ids],
        )
        # Every round rewrites the same rows: without this their dead versions pile up
        # (25 a row after a run) and both variants pay for what no real burst leaves.
        cursor.execute("VACUUM scheduling_reminder")


def _any_open() -> bool:
    # The only reminders in the database are the benchmark's. Whether one is still open,
    # off the index of open rows: the first in its order, where counting them would take a
    # core's tenth from the worker it measures (2 ms every poll, with 10,000 open). Asked
    # as EXISTS, the planner read the table from its start instead (statistics taken before
    # the rounds say every row is open), past every row already sent: up to 2.4 ms a poll.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT scheduled_for FROM scheduling_reminder WHERE is_open"
            " ORDER BY scheduled_for LIMIT 1"
        )
        return cursor.fetchone() is not None


def _sent_rows(ids: list[int]) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM scheduling_reminder WHERE status = 'sent' AND id = ANY(%s)",
            [ids],
        )
        return cursor.fetchone()[0]


def _celery_worker(env: dict, processes: int = 2) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--concurrency",
            str(processes),
            "--pool",
            "prefork",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def _dispatch_round(send, ids: list[int]) -> float:
    """One dispatch of the due rows by a worker: ``send()`` enqueues the dispatch task; the
    seconds until no row is open (polled every 10 ms: polling every 2 ms, ~0.05 ms of database
    time each plus the wake-ups, made the worker's rounds 10 % slower)."""
    _reset_reminders(ids)
    started = time.perf_counter()
    send()
    deadline = time.monotonic() + 300
    while _any_open():
        if time.monotonic() > deadline:
            raise RuntimeError("dispatch stuck: reminders still open")
        time.sleep(0.01)
    return time.perf_counter() - started


def bench_dispatch() -> None:
    from django.db import connection

    from scheduling.tasks import reminders_dispatch_task

    ids = _due_reminders()
    with connection.cursor() as cursor:
        opened_before = _sessions_opened(cursor)
    worker = _celery_worker(env_for(DB_URL))
    times = {"worker": [], "sql": []}
    sent = []
    try:
        time.sleep(4)  # the worker boots and forks its children
        # Round -1 warms up, unmeasured: each worker process's first drain connects and
        # imports the e-mail modules (~40 ms), which a running worker has done long before its
        # morning burst.
        # Three times the rounds of the other benchmarks: a round is half a second, and the
        # baseline's 0.08 s moves by a few milliseconds from one round to the next.
        for r in range(-1, 3 * ROUNDS):
            for variant in ["worker", "sql"] if r % 2 == 0 else ["sql", "worker"]:
                if variant == "worker":
                    elapsed = _dispatch_round(reminders_dispatch_task.delay, ids)
                else:
                    _reset_reminders(ids)
                    started = time.perf_counter()
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "UPDATE scheduling_reminder SET status = 'sent',"
                            " attempts = attempts + 1, claimed_at = now(), sent_at = now(),"
                            " provider_message_id = 'bench-' || id, last_error = '',"
                            " updated_at = now()"
                            " WHERE status = 'pending' AND scheduled_for <= now()"
                            " AND id = ANY(%s)",
                            [ids],
                        )
                    elapsed = time.perf_counter() - started
                if r < 0:
                    continue
                times[variant].append(elapsed)
                if variant == "worker":
                    sent.append(_sent_rows(ids))
        with connection.cursor() as cursor:
            opened = _sessions_opened(cursor) - opened_before
    finally:
        _stop(worker)
    ratio = median(w / s for w, s in zip(times["worker"], times["sql"], strict=True))
    rows = [
        [f"worker: dispatch + send {len(ids)} (sent {min(sent)})", median(times["worker"])],
        ["one set-based UPDATE, same state changes", median(times["sql"])],
    ]
    table(
        "Reminder dispatch end to end (real worker, 2 prefork processes, Redis; seconds)",
        ["variant", "seconds"],
        rows,
    )
    say(f"new PostgreSQL connections over the run: {opened} (2 worker processes)")
    RESULTS["dispatch"] = {"rows": rows, "connections": opened}
    ratio_line("reminder dispatch / set-based SQL", ratio, "<= 3", ratio <= 3)
    ratio_line("new connections per worker process", opened / 2, "<= 1", opened <= 2)


# Through PgBouncer against the direct connection ---------------------------------------------

# Server connections of the benchmark's PgBouncer: fewer than its clients (the web workers, or
# the worker's processes), as a production pool sized to the primary's cores is.
POOL_SIZE = 4
# Both paths run as the README's "How many processes" deploys them: gunicorn's 2 × cores + 1
# sync workers, and a worker with a process for every drain a dispatch wakes
# (REMINDER_DRAIN_TASKS). With one process per core (the http and dispatch entries' servers)
# a sync process idles through each statement's trip, so every hop through the pooler costs
# throughput in full on a machine whose cores the pooler shares; bench/README.md has figures.
POOLER_WEB_WORKERS = 2 * (os.cpu_count() or 1) + 1
# The http entry's smallest and largest pages: what the pooler adds is per statement, and the
# pages between cost `make bench` minutes without telling more.
POOLER_PAGE_SIZES = (PAGE_SIZES[0], PAGE_SIZES[-1])


def _pooled_url(bouncer) -> str:
    return bouncer.url(DB_URL.rsplit("/", 1)[1].split("?")[0])


def bench_pooler(tok: dict) -> None:
    """The HTTP lists and the reminder dispatch through PgBouncer (transaction pooling,
    ``DATABASE_POOLER=pgbouncer``) against the same on a direct connection, rotated per round."""
    import datetime
    from urllib.parse import urlsplit

    from django.utils import timezone

    from config.embedded import EmbeddedRedis
    from tests.e2e.pgbouncer import PgBouncer

    upstream = urlsplit(DB_URL)
    bouncer = PgBouncer(
        OUT / "pgbouncer",
        upstream_host=upstream.hostname or "127.0.0.1",
        upstream_port=upstream.port or 5432,
        pool_size=POOL_SIZE,
    )
    pooled = {"DATABASE_POOLER": "pgbouncer"}
    today = timezone.localdate()
    window = f"start={today}&end={today + datetime.timedelta(days=60)}"
    lists = {
        "me/schedule": (tok["patient"], f"/api/v1/me/schedule/?{window}&page_size={{n}}"),
        "sessions": (tok["clinician"], "/api/v1/sessions/?page_size={n}"),
    }
    with contextlib.ExitStack() as stack:
        bouncer.start()
        stack.callback(bouncer.stop)
        bases = {
            "direct": stack.enter_context(gunicorn(DB_URL, free_port(), POOLER_WEB_WORKERS)),
            "pgbouncer": stack.enter_context(
                gunicorn(_pooled_url(bouncer), free_port(), POOLER_WEB_WORKERS, **pooled)
            ),
        }
        for token, path in lists.values():
            for n in POOLER_PAGE_SIZES:  # warm-up (connections, caches)
                for base in bases.values():
                    wrk(base + path.format(n=n), token, 2, 1)
        runs: dict = {}
        # Twice the rounds of the http entry: a cell's paired ratios scatter by ±0.1 from one
        # 2-second round to the next on this machine, and the target is the worst cell.
        for r in range(2 * ROUNDS):
            for name, (token, path) in lists.items():
                for n in POOLER_PAGE_SIZES:
                    variants = list(bases.items())
                    if r % 2:
                        variants.reverse()
                    for variant, base in variants:
                        runs.setdefault((name, n, variant), []).append(
                            wrk(base + path.format(n=n), token, 16)["rps"]
                        )
    rows, worst = [], 9.0
    for name in lists:
        for n in POOLER_PAGE_SIZES:
            direct, through = runs[(name, n, "direct")], runs[(name, n, "pgbouncer")]
            ratio = median(p / d for p, d in zip(through, direct, strict=True))
            worst = min(worst, ratio)
            rows.append([name, n, median(direct), median(through), ratio])
    table(
        f"HTTP lists through PgBouncer (transaction pooling, pool of {POOL_SIZE}) vs direct "
        f"(gunicorn {POOLER_WEB_WORKERS} sync workers, c16; {2 * ROUNDS} rounds × {SECONDS}s; "
        "medians)",
        ["endpoint", "page", "req/s direct", "req/s pgbouncer", "ratio"],
        rows,
    )
    RESULTS["pooler_http"] = rows
    ratio_line("lists req/s through PgBouncer vs direct (worst)", worst, ">= 0.9", worst >= 0.9)

    # The dispatch: one worker on each path, each with a broker of its own (a redis-server of
    # the benchmark's, the same binary for both), so that each takes only its own tasks.
    from django.conf import settings

    from config.celery import app
    from scheduling.tasks import reminders_dispatch_task

    processes = settings.REMINDER_DRAIN_TASKS
    ids = _due_reminders()
    times = {"direct": [], "pgbouncer": []}
    with contextlib.ExitStack() as stack:
        bouncer.start()
        stack.callback(bouncer.stop)
        workers, senders = {}, {}
        for variant, url, extra in (
            ("direct", DB_URL, {}),
            ("pgbouncer", _pooled_url(bouncer), pooled),
        ):
            broker = EmbeddedRedis(OUT / f"broker-{variant}", port=free_port())
            broker.ensure_running()
            stack.callback(broker.destroy)
            workers[variant] = _celery_worker(
                env_for(url, CELERY_BROKER_URL=broker.url(), **extra), processes
            )
            stack.callback(_stop, workers[variant])
            producer = stack.enter_context(app.connection_for_write(broker.url()))
            senders[variant] = lambda c=producer: reminders_dispatch_task.apply_async(connection=c)
        time.sleep(4)  # the workers boot and fork their children
        # Round -1 warms up, unmeasured (see the dispatch benchmark); three times the rounds.
        for r in range(-1, 3 * ROUNDS):
            for variant in ["direct", "pgbouncer"] if r % 2 == 0 else ["pgbouncer", "direct"]:
                elapsed = _dispatch_round(senders[variant], ids)
                if r >= 0:
                    times[variant].append(elapsed)
        sent = _sent_rows(ids)
    ratio = median(d / p for d, p in zip(times["direct"], times["pgbouncer"], strict=True))
    rows = [
        [f"direct: dispatch + send {len(ids)} (sent {sent})", median(times["direct"])],
        [f"through PgBouncer, pool of {POOL_SIZE}", median(times["pgbouncer"])],
    ]
    table(
        f"Reminder dispatch through PgBouncer vs direct (real workers, {processes} prefork "
        "processes each; seconds)",
        ["variant", "seconds"],
        rows,
    )
    RESULTS["pooler_dispatch"] = rows
    ratio_line("dispatch speed through PgBouncer vs direct", ratio, ">= 0.9", ratio >= 0.9)


# Series materialization -----------------------------------------------------------------------

SERIES = 100


def bench_series() -> None:
    import datetime

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from programs.models import Program
    from scheduling.models import Series
    from scheduling.services import materialize_all_series

    def run(n: int) -> tuple[float, int, int]:
        with transaction.atomic():
            program = Program.objects.filter(level="iop").order_by("id").first()
            actor = get_user_model().objects.get(username="bench-clinician")
            today = timezone.localdate()
            Series.objects.bulk_create(
                [
                    Series(
                        clinic_id=program.clinic_id,
                        program=program,
                        kind="group",
                        title=f"IOP track {i}",
                        weekdays=[1, 3, 5],
                        local_start_time=datetime.time(17, 30),
                        duration_minutes=180,
                        time_zone="America/New_York",
                        starts_on=today + datetime.timedelta(days=1),
                        ends_on=today + datetime.timedelta(weeks=12),
                        created_by=actor,
                    )
                    for i in range(n)
                ]
            )
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                created = materialize_all_series(until=today + datetime.timedelta(weeks=12))
                elapsed = time.perf_counter() - started
            transaction.set_rollback(True)
        return elapsed, len(captured), created

    small = run(10)
    rows, times = [], []
    for _ in range(ROUNDS):
        times.append(run(SERIES))
    elapsed = median(t[0] for t in times)
    rows = [
        ["10 tracks × 12 weeks", small[2], small[1], small[0]],
        [f"{SERIES} tracks × 12 weeks", times[0][2], times[0][1], elapsed],
    ]
    table(
        "Series materialization (one nightly pass; medians)",
        ["pass", "sessions", "queries", "seconds"],
        rows,
    )
    RESULTS["series"] = rows
    ratio_line(
        f"series queries {SERIES} tracks / 10 tracks",
        times[0][1] / small[1],
        "1.00 (constant)",
        times[0][1] == small[1],
    )


# Plot -----------------------------------------------------------------------------------------


def plot() -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("(matplotlib missing: no plot; `pip install -e .[bench]`)")
        return
    rows = RESULTS.get("http")
    if not rows:
        return
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
    for ax, name in zip(axes, ["me/schedule", "sessions"], strict=True):
        mine = [r for r in rows if r[0] == name]
        x = range(len(mine))
        ax.bar([i - 0.2 for i in x], [r[2] for r in mine], 0.4, label="app")
        ax.bar([i + 0.2 for i in x], [r[3] for r in mine], 0.4, label="raw SQL + orjson")
        ax.set_xticks(list(x), [f"page {r[1]}" for r in mine])
        ax.set_title(f"{name}: req/s at 16 connections")
        ax.legend()
    figure.tight_layout()
    figure.savefig(OUT / "http.png", dpi=80)
    say(f"plot: {OUT / 'http.png'}")


def main() -> int:
    if shutil.which("wrk") is None:
        say("wrk is missing: apt-get install -y wrk")
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    say(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    with open("/proc/loadavg") as f:
        say(f"load average at start: {f.read().split()[:3]}")
    prepare(DB_URL, 1)
    if wanted("reports"):
        prepare(DB10_URL, 10)
    import django

    django.setup()
    tok1 = tokens()
    with contextlib.ExitStack() as stack:
        if wanted("http") or wanted("reports"):
            base1 = stack.enter_context(gunicorn(DB_URL, free_port()))
        if wanted("http"):
            bench_http(base1, tok1)
        if wanted("queries"):
            bench_queries(tok1)
        if wanted("reports"):
            base10 = stack.enter_context(gunicorn(DB10_URL, free_port()))
            tok10 = json.loads(
                subprocess.run(  # noqa: S603
                    [
                        PYTHON,
                        "-c",
                        "import django, json; django.setup(); "
                        "from bench.run import tokens; print(json.dumps(tokens()))",
                    ],
                    env=env_for(DB10_URL),
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            bench_reports(base1, base10, tok1, tok10)
    if wanted("plan"):
        bench_plan()
    if wanted("dispatch"):
        bench_dispatch()
    if wanted("pooler"):
        bench_pooler(tok1)
    if wanted("series"):
        bench_series()
    plot()
    with open("/proc/loadavg") as f:
        say(f"\nload average at end: {f.read().split()[:3]}")
    say(f"total time: {time.monotonic() - started:.0f}s")
    say("\n".join(["", "== Ratios", *RESULTS.get("ratios", [])]))
    (OUT / "results.json").write_text(json.dumps(RESULTS, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
