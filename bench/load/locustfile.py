"""People browsing Headway: the home page, KPI pages, team pages and the API.

Run by `bench/load/run.py`, which signs everyone in through the sign-in form first and
hands the sessions over in the file LOAD_SESSIONS names (JSON: each person's Cookie
header, with the session and the CSRF cookie as a browser sends them; KPI and team keys;
an API token), so that the measured minute is browsing only. Each simulated
person waits 1 to 3 s between pages. Requests carry `X-Forwarded-Proto: https`, as they
would from the TLS proxy in front of Headway, since `headway serve` runs in production mode.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from locust import HttpUser, between, task

with open(os.environ["LOAD_SESSIONS"], encoding="utf-8") as handle:
    PLAN: dict[str, Any] = json.load(handle)

_next = 0


def _session() -> str:
    global _next
    value: str = PLAN["cookies"][_next % len(PLAN["cookies"])]
    _next += 1
    return value


class Person(HttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.page_headers = {
            "X-Forwarded-Proto": "https",
            "Cookie": _session(),
        }
        self.api_headers = {
            "X-Forwarded-Proto": "https",
            "Authorization": f"Bearer {PLAN['token']}",
        }

    def _page(self, path: str, name: str) -> None:
        with self.client.get(
            path, headers=self.page_headers, name=name, allow_redirects=False, catch_response=True
        ) as response:
            # A redirect here would be to the sign-in page: the session was lost.
            if response.status_code != 200:
                response.failure(f"{path}: status {response.status_code}")

    def _api(self, path: str, name: str) -> None:
        with self.client.get(
            path, headers=self.api_headers, name=name, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{path}: status {response.status_code}")

    @task(3)
    def home(self) -> None:
        self._page("/", "home")

    @task(5)
    def kpi(self) -> None:
        self._page(f"/kpis/{random.choice(PLAN['kpis'])}/", "kpi page")

    @task(2)
    def team(self) -> None:
        self._page(f"/teams/{random.choice(PLAN['teams'])}/", "team page")

    @task(1)
    def api_list(self) -> None:
        self._api("/api/v1/kpis", "api kpi list")

    @task(2)
    def api_detail(self) -> None:
        key = random.choice(PLAN["kpis"])
        if random.random() < 0.5:
            self._api(f"/api/v1/kpis/{key}", "api kpi detail")
        else:
            self._api(f"/api/v1/kpis/{key}/results", "api kpi results")
