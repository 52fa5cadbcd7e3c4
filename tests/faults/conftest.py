from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.report import write_report


@pytest.fixture(scope="session", autouse=True)
def _report_figures() -> Iterator[None]:
    yield
    write_report()
