"""Schemathesis fuzzes every route of the published OpenAPI schema: never a 5xx.

Runs against a real server over a private copy of the collection, with the admin key
(so admin routes are explored too: they may change that copy). Bounded to a few
examples per operation so the whole run takes about a minute. (Hypothesis drives each
operation's strategy directly: schemathesis' pytest plugin does not load under this
pytest version.)
"""

from __future__ import annotations

from collections import Counter

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.helpers.served import ADMIN_KEY

EXAMPLES = 20


def test_no_server_errors(private) -> None:
    openapi = httpx.get(private.url + "/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(openapi)
    schema.config.update(base_url=private.url)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 12, [op.label for op in operations]
    for op in operations:

        @given(case=op.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case) -> None:
            response = case.call(base_url=private.url, headers={"X-API-Key": ADMIN_KEY}, timeout=60)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )
            elif response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                assert response.json()["error"]["message"]

        run()
    print("fuzz statuses:", dict(sorted(statuses.items())))
    assert not failures, failures[:5]
    assert sum(statuses.values()) >= len(operations) * 5
