"""What the tests of the RQ engine share: a marker for machines without Redis, and a clean slate per test."""
from __future__ import annotations

from pathlib import Path

import pytest
from redis import Redis

from bench.services import REDIS_SERVER

needs_redis = pytest.mark.skipif(not Path(REDIS_SERVER).exists(),
                                 reason="no redis-server (Debian: apt-get install redis-server; .ci/run installs it)")


def forget_runs(url: str) -> None:
    """The live state of earlier tests' runs (run ids repeat across tests' stores)."""
    client = Redis.from_url(url)
    keys = list(client.scan_iter("explorer:*"))
    if keys:
        client.delete(*keys)
