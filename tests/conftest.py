"""Shared fixtures. Tests that need PostgreSQL or Redis are marked `services`:
they skip when those are absent, except under ROOFWATCH_REQUIRE_SERVICES=1 (CI),
where they fail."""
import os

import pytest

REQUIRE_SERVICES = os.environ.get("ROOFWATCH_REQUIRE_SERVICES") == "1"


def need_service(what: str) -> None:
    """Skip the calling test for lack of `what`, or fail it when services are required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"ROOFWATCH_REQUIRE_SERVICES=1 but {what}")
    pytest.skip(what)
