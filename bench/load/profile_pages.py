"""Profiles one warm request of a page through Django's test client, against a database
that seed.py filled, to see where a page's time goes.

    DATABASE_URL=sqlite:////tmp/load/headway.sqlite3 HEADWAY_DATA_DIR=/tmp/load \\
        uv run python bench/load/profile_pages.py /kpis/k002/ / --cache memory

It prints each page's warm time (median of --repeat requests), its queries and the
functions with the most cumulative time of one warm request.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="pages to profile, e.g. /kpis/k002/")
    parser.add_argument("--cache", default="memory", help="HEADWAY_CACHE (memory, database)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--top", type=int, default=25, help="functions listed per page")
    parser.add_argument("--email", default="member1.t02@load.test", help="who signs in")
    args = parser.parse_args(argv)
    if "DATABASE_URL" not in os.environ or "HEADWAY_DATA_DIR" not in os.environ:
        print("profile_pages: set DATABASE_URL and HEADWAY_DATA_DIR", file=sys.stderr)
        return 2
    os.environ["HEADWAY_CACHE"] = args.cache
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    sys.path.insert(0, str(HERE))
    import seed as seeding

    seeding.setup(Path(os.environ["HEADWAY_DATA_DIR"]))
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from headway.accounts.models import User

    if args.cache == "database":
        call_command("createcachetable", verbosity=0)
    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(email=args.email))
    cache.clear()
    for path in args.paths:
        first = time.perf_counter()
        response = client.get(path)
        cold_ms = (time.perf_counter() - first) * 1000
        if response.status_code != 200:
            print(f"{path} answered {response.status_code}", file=sys.stderr)
            return 1
        timings = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            client.get(path)
            timings.append((time.perf_counter() - began) * 1000)
        with CaptureQueriesContext(connection) as captured:
            client.get(path)
        profiler = cProfile.Profile()
        profiler.enable()
        client.get(path)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(
            f"== {path}: cold {cold_ms:.0f} ms, warm median {statistics.median(timings):.1f} ms"
            f" (min {min(timings):.1f}), {len(captured.captured_queries)} queries warm,"
            f" {len(response.content) / 1024:.0f} KB"
        )
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
