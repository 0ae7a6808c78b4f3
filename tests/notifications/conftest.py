"""The small organisation of tests/app/conftest.py (nora owns conversion, sam revenue),
and a fake Slack/Teams receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import Organisation, build_organisation
from tests.app.test_alerts import Hooks


@pytest.fixture
def org(db: None, tmp_path: Path) -> Organisation:
    return build_organisation(tmp_path)


@pytest.fixture
def hooks(settings: Any) -> Iterator[Hooks]:
    settings.HEADWAY_HTTP_ALLOW = ["127.0.0.1"]
    receiver = Hooks()
    yield receiver
    receiver.server.shutdown()
