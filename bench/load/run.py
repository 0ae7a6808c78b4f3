"""The application under load: `headway serve` with 500 KPIs, 20 teams and 5 years of
monthly results, on PostgreSQL and on SQLite, on 127.0.0.1 only.

    uv run python bench/load/run.py                  # both databases, about 8 minutes
    uv run python bench/load/run.py --db sqlite      # one of them

For each database it
  1. makes a fresh database (SQLite: a new folder; PostgreSQL: the database `headway_load`,
     dropped afterwards) and seeds it (seed.py), with the cache table;
  2. counts the queries of each page with Django's test client: every cache empty, the
     parts of pages cached (another person's first view), the whole page cached;
  3. starts `headway serve` (gunicorn, 2 workers per core) with --cache: by default
     `database`, one cache shared by the workers (a KPI's analysis and page parts made
     once for all of them); `memory` gives each worker its own. Whole pages and API reads
     are kept in each worker's memory under the database's generation (headway.changes);
  4. signs 50 people in through the sign-in form (timed), then opens every KPI page, every
     team page and the home page once: the cold figures, and what fills the cache;
  5. runs locust headless: 50 people arriving over 10 s, then 1-3 s between pages, for
     --duration seconds after the last arrived (the figures: statistics reset then);
  6. runs wrk (8 connections, 2 threads, --wrk-seconds each) on /healthz (a Django view
     doing no work: the baseline), the home page and a KPI page;
  7. writes bench/results/load-<db>.json, prints a table and checks the goals.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "headway_load"
GOAL_P95_MS = 100.0
RAMP_SECONDS = 10
GOAL_RPS = 200.0
GOAL_RATIO = 0.4
# What the query counts and wrk measure: a KPI of a team (most KPIs are) and, for the
# counts, one of the company's, which also has a breakdown by team.
TEAM_KPI = "k002"
COMPANY_KPI = "k001"
TEAM = "t02"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


# --- the database -------------------------------------------------------------------


def _fresh_database(db: str, folder: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{folder / 'headway.sqlite3'}"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DATABASE}"


def _drop_database(db: str) -> None:
    if db != "postgres":
        return
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')


# --- query counts -------------------------------------------------------------------


def _count_queries(pages: dict[str, str], member: str, token: str) -> dict[str, dict[str, int]]:
    """Each page's queries: every cache empty ("cold"); the parts of pages cached but not
    the page ("parts": another person's first view); the page cached too ("page")."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from headway.accounts import cached_auth
    from headway.accounts.models import User
    from headway.web import page_cache

    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(email=member))
    client.get("/healthz")
    counts: dict[str, dict[str, int]] = {}
    for name, path in pages.items():
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if path.startswith("/api/") else {}
        counts[name] = {}
        cache.clear()
        cached_auth.forget_all()
        for state in ("cold", "parts", "page"):
            if state == "parts":
                page_cache.forget_all()
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path, **headers)  # type: ignore[arg-type]
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code} to the test client")
            counts[name][state] = len(captured.captured_queries)
    cache.clear()
    return counts


def _generations() -> dict[str, int]:
    """The data and auth generations (headway.changes): how often writes emptied the
    caches while people browsed (nothing they do should write)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT name, value FROM changes_generation")
        return {str(name): int(value) for name, value in cursor.fetchall()}


# --- the server ---------------------------------------------------------------------


def _start_server(
    environment: dict[str, str], port: int, workers: int, log: Path
) -> subprocess.Popen[bytes]:
    headway = Path(sys.executable).parent / "headway"
    command = [str(headway), "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, env=environment, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    # collectstatic compresses every file the first time: minutes on a busy machine.
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"headway serve stopped (status {server.returncode}); see {log}")
        # As from the TLS proxy: in production mode plain HTTP is sent on to https://.
        status, _ms_taken = _timed_get(
            f"http://127.0.0.1:{port}/healthz", {"X-Forwarded-Proto": "https"}
        )
        if status == 200:
            return server
        time.sleep(0.3)
    _stop_server(server)
    raise SystemExit(f"headway serve did not answer within 400 s; see {log}")


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _sign_in(
    base: str, email: str, password: str, cookie_names: tuple[str, str]
) -> tuple[str, float]:
    """Signs in through the form as a browser behind the TLS proxy would; returns the
    Cookie header the browser sends from then on (the session and the CSRF cookie, which
    signing in renews) and how long the two requests took."""
    import requests

    csrf_name, session_name = cookie_names
    proxy = {"X-Forwarded-Proto": "https"}
    began = time.perf_counter()
    page = requests.get(f"{base}/accounts/login/", headers=proxy, timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    csrf = page.cookies.get(csrf_name)
    if page.status_code != 200 or token is None or csrf is None:
        raise SystemExit(f"the sign-in page answered {page.status_code} without a CSRF token")
    answer = requests.post(
        f"{base}/accounts/login/",
        data={"username": email, "password": password, "csrfmiddlewaretoken": token.group(1)},
        headers={
            **proxy,
            "Cookie": f"{csrf_name}={csrf}",
            "Referer": base.replace("http://", "https://") + "/accounts/login/",
        },
        allow_redirects=False,
        timeout=30,
    )
    session = answer.cookies.get(session_name)
    if answer.status_code != 302 or not session:
        raise SystemExit(f"signing in as {email} failed: status {answer.status_code}")
    csrf = answer.cookies.get(csrf_name) or csrf
    return f"{session_name}={session}; {csrf_name}={csrf}", time.perf_counter() - began


class _Refuse(urllib.request.HTTPRedirectHandler):
    # A redirect is an answer to report (to the sign-in page: the session is gone).
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_Refuse)


def _timed_get(url: str, headers: dict[str, str]) -> tuple[int, float]:
    request = urllib.request.Request(url, headers=headers)
    began = time.perf_counter()
    try:
        with _NO_REDIRECTS.open(request, timeout=60) as answer:
            answer.read()
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        status = 0
    return status, (time.perf_counter() - began) * 1000


# --- locust and wrk -----------------------------------------------------------------


def _locust(base: str, plan: Path, users: int, seconds: int, folder: Path) -> dict[str, Any]:
    prefix = folder / "locust"
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        # People arrive over RAMP_SECONDS, not in the same millisecond (50 first views at
        # once queue behind 4 workers for half a second); the figures are those of the
        # --duration seconds after the last one arrived (--reset-stats).
        "--spawn-rate",
        str(max(1, round(users / RAMP_SECONDS))),
        "--reset-stats",
        "--run-time",
        f"{seconds + RAMP_SECONDS}s",
        "--host",
        base,
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    environment = dict(os.environ, LOAD_SESSIONS=str(plan))
    subprocess.run(
        command, env=environment, check=False, capture_output=True, timeout=seconds + 180
    )
    pages: dict[str, Any] = {}
    with Path(f"{prefix}_stats.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            pages[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 1),
                "p50_ms": float(row["50%"]),
                "p95_ms": float(row["95%"]),
                "p99_ms": float(row["99%"]),
                "mean_ms": round(float(row["Average Response Time"]), 1),
            }
    return pages


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return round(float(number) * _UNITS[unit], 2)


def _wrk(url: str, headers: dict[str, str], seconds: int) -> dict[str, Any]:
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, url], check=True, capture_output=True, text=True, timeout=seconds + 60
    ).stdout
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.MULTILINE))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(latency["50"]) if "50" in latency else float("nan"),
        "p90_ms": _ms(latency["90"]) if "90" in latency else float("nan"),
        "p99_ms": _ms(latency["99"]) if "99" in latency else float("nan"),
        "errors": (int(bad.group(1)) if bad else 0)
        + (sum(int(n) for n in errors.groups()) if errors else 0),
    }


# --- one database -------------------------------------------------------------------


def run_one(db: str, args: argparse.Namespace) -> dict[str, Any]:
    began = time.monotonic()
    # The same folder every run, emptied but for the collected static files, which take
    # `headway serve` minutes to compress the first time.
    folder = Path(tempfile.gettempdir()) / f"headway-load-{db}"
    for item in folder.glob("*") if folder.exists() else []:
        if item.name != "static":
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    folder.mkdir(exist_ok=True)
    password = secrets.token_urlsafe(12)
    database_url = _fresh_database(db, folder)
    environment = {
        "DATABASE_URL": database_url,
        "HEADWAY_DATA_DIR": str(folder),
        "HEADWAY_CACHE": args.cache,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(environment)
    os.environ["HEADWAY_MODE"] = "local"
    sys.path.insert(0, str(HERE))
    import seed as seeding

    seeding.setup(folder)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    call_command("createcachetable", verbosity=0)
    seeded = seeding.seed(password=password, data_dir=folder)
    print(f"[{db}] seeded {seeded.kpis} KPIs, {seeded.results} results in {seeded.seconds} s")
    pages = {
        "home": "/",
        "kpi page (team KPI)": f"/kpis/{TEAM_KPI}/",
        "kpi page (company KPI, by team)": f"/kpis/{COMPANY_KPI}/",
        "team page": f"/teams/{TEAM}/",
        "api kpi list": "/api/v1/kpis",
        "api kpi detail": f"/api/v1/kpis/{TEAM_KPI}",
        "api kpi results": f"/api/v1/kpis/{TEAM_KPI}/results",
        "healthz": "/healthz",
    }
    query_counts = _count_queries(pages, seeded.members[4], seeded.api_token)
    connections.close_all()
    print(
        f"[{db}] queries per page (cold/parts/page cached): "
        + ", ".join(
            f"{name} {c['cold']}/{c['parts']}/{c['page']}" for name, c in query_counts.items()
        )
    )

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    workers = args.workers or 2 * (os.cpu_count() or 1)
    server_env = {k: v for k, v in os.environ.items() if k != "HEADWAY_MODE"}
    server = _start_server(server_env, port, workers, folder / "server.log")
    production_cookies = ("__Host-csrftoken", "__Host-sessionid")
    try:
        people = [seeded.admin, *seeded.managers, *seeded.members][: args.users]
        sessions, sign_in_seconds = [], []
        for email in people:
            session, seconds = _sign_in(base, email, password, production_cookies)
            sessions.append(session)
            sign_in_seconds.append(seconds * 1000)
        page_headers = {
            "X-Forwarded-Proto": "https",
            "Cookie": sessions[-1],
        }
        # Every page once, four at a time: the cold figures, and the cache filled.
        urls = [f"/kpis/{key}/" for key in seeded.kpi_keys]
        urls += [f"/teams/{key}/" for key in seeded.team_keys] + ["/"]
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            cold = list(pool.map(lambda path: _timed_get(base + path, page_headers), urls))
        cold_failures = sum(1 for status, _ in cold if status != 200)
        cold_ms = [ms for _, ms in cold]
        plan = folder / "sessions.json"
        plan.write_text(
            json.dumps(
                {
                    "cookies": sessions,
                    "kpis": seeded.kpi_keys,
                    "teams": seeded.team_keys,
                    "token": seeded.api_token,
                }
            ),
            encoding="utf-8",
        )
        print(
            f"[{db}] {len(sessions)} signed in; {len(urls)} pages warmed; locust {args.duration} s ..."  # noqa: E501
        )
        moves_before = _generations()
        browsing = _locust(base, plan, args.users, args.duration, folder)
        moves_after = _generations()
        saturation = {}
        for name, path in (
            ("bare view (/healthz)", "/healthz"),
            ("home", "/"),
            (f"kpi page ({TEAM_KPI})", f"/kpis/{TEAM_KPI}/"),
        ):
            status, _ms_taken = _timed_get(base + path, page_headers)
            if status != 200:
                raise SystemExit(f"{path} answered {status} before wrk")
            print(f"[{db}] wrk {path} ...")
            saturation[name] = _wrk(base + path, page_headers, args.wrk_seconds)
    finally:
        _stop_server(server)
        connections.close_all()
        _drop_database(db)
    bare = saturation["bare view (/healthz)"]["rps"]
    for figures in saturation.values():
        figures["ratio_to_bare"] = round(figures["rps"] / bare, 3) if bare else None
    total = browsing.get("Aggregated", {})
    browse_pages = {name: figures for name, figures in browsing.items() if name != "Aggregated"}
    goals = {
        "browsing p95 under 100 ms on every page": all(
            figures["p95_ms"] < GOAL_P95_MS for figures in browse_pages.values()
        ),
        "browsing without errors": total.get("failures", 1) == 0 and cold_failures == 0,
    }
    for name in ("home", f"kpi page ({TEAM_KPI})"):
        goals[f"{name}: at least {GOAL_RPS:.0f} requests/s"] = saturation[name]["rps"] >= GOAL_RPS
        goals[f"{name}: at least {GOAL_RATIO}x the bare view"] = (
            saturation[name]["ratio_to_bare"] >= GOAL_RATIO
        )
        goals[f"{name}: wrk without errors"] = saturation[name]["errors"] == 0
    report = {
        "database": db,
        "engine": settings.DATABASES["default"]["ENGINE"],
        "machine": {"cores": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "server": {"workers": workers, "cache": args.cache},
        "organisation": {
            "kpis": seeded.kpis,
            "teams": seeded.teams,
            "people": seeded.people,
            "results": seeded.results,
            "target_versions": seeded.targets,
            "seed_seconds": seeded.seconds,
        },
        "queries_per_page": query_counts,
        "sign_in": {
            "people": len(sign_in_seconds),
            "p50_ms": round(statistics.median(sign_in_seconds), 1),
            "max_ms": round(max(sign_in_seconds), 1),
        },
        "cold_pages": {
            "pages": len(cold_ms),
            "failures": cold_failures,
            "p50_ms": round(_percentile(cold_ms, 0.5), 1),
            "p95_ms": round(_percentile(cold_ms, 0.95), 1),
            "max_ms": round(max(cold_ms), 1),
        },
        "browsing": {
            "generation_moves": {
                name: moves_after[name] - moves_before[name] for name in moves_after
            },
            "users": args.users,
            "seconds": args.duration,
            "think_s": [1, 3],
            "ramp_seconds": RAMP_SECONDS,
            "pages": browsing,
        },
        "saturation": {
            "connections": 8,
            "threads": 2,
            "seconds": args.wrk_seconds,
            "pages": saturation,
        },
        "goals": goals,
        "run_seconds": round(time.monotonic() - began, 1),
    }
    return report


def _print(report: dict[str, Any]) -> None:
    db = report["database"]
    print(
        f"\n== {db}: {report['organisation']['kpis']} KPIs, {report['organisation']['results']} results, "  # noqa: E501
        f"{report['server']['workers']} workers, {report['machine']['cores']} cores =="
    )
    print(
        f"{'browsing (locust)':34} {'reqs':>6} {'fail':>5} {'rps':>6} {'p50':>6} {'p95':>6} {'p99':>6}  queries"  # noqa: E501
    )
    counts = report["queries_per_page"]
    names = {"home": "home", "kpi page": "kpi page (team KPI)", "team page": "team page"}
    for name, f in report["browsing"]["pages"].items():
        count = counts.get(names.get(name, name), {})
        queries = f"{count['cold']}/{count['parts']}/{count['page']}" if count else ""
        print(
            f"{name:34} {f['requests']:6} {f['failures']:5} {f['rps']:6} {f['p50_ms']:6.0f} {f['p95_ms']:6.0f} {f['p99_ms']:6.0f}  {queries}"  # noqa: E501
        )
    print(f"generations moved while browsing: {report['browsing']['generation_moves']}")
    print(
        f"{'saturation (wrk -c8)':34} {'rps':>8} {'p50':>7} {'p90':>7} {'p99':>7} {'x bare':>7} {'errors':>6}"  # noqa: E501
    )
    for name, f in report["saturation"]["pages"].items():
        print(
            f"{name:34} {f['rps']:8.1f} {f['p50_ms']:7.1f} {f['p90_ms']:7.1f} {f['p99_ms']:7.1f} {f['ratio_to_bare']:7.3f} {f['errors']:6}"  # noqa: E501
        )
    cold = report["cold_pages"]
    print(
        f"cold pages (first view, cache empty): p50 {cold['p50_ms']} ms, p95 {cold['p95_ms']} ms, max {cold['max_ms']} ms"  # noqa: E501
    )
    print(
        "queries per page, cold/parts cached/page cached: "
        + ", ".join(f"{k} {v['cold']}/{v['parts']}/{v['page']}" for k, v in counts.items())
    )
    for goal, met in report["goals"].items():
        print(f"  [{'met' if met else 'NOT MET'}] {goal}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=int, default=60, help="seconds of browsing")
    parser.add_argument("--wrk-seconds", type=int, default=15)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument(
        "--cache", choices=["memory", "database"], default="database", help="HEADWAY_CACHE"
    )
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (2 per core)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("run: wrk is missing (apt-get install wrk)", file=sys.stderr)
        return 2
    if args.db == "both":
        # Each database in a process of its own: Django is set up once per process.
        status = 0
        for db in ("postgres", "sqlite"):
            status |= subprocess.run(
                [sys.executable, __file__, *sys.argv[1:], "--db", db], check=False
            ).returncode
        return status
    args.out_dir.mkdir(parents=True, exist_ok=True)
    report = run_one(args.db, args)
    (args.out_dir / f"load-{args.db}.json").write_text(
        json.dumps(report, indent=1), encoding="utf-8"
    )
    _print(report)
    return 0 if all(report["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
