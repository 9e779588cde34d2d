"""Test sizes: small in `make test`, full under `make reliability` (which sets RELIABILITY_FULL=1).

Each size can also be set on its own, e.g. RELIABILITY_VALUES_MUTATIONS=1000.
"""

from __future__ import annotations

import os

FULL = os.environ.get("RELIABILITY_FULL") == "1"


def size(name: str, small: int, full: int) -> int:
    """RELIABILITY_<NAME> if set, else the full size under `make reliability`, else the small one."""
    value = os.environ.get(f"RELIABILITY_{name.upper()}")
    return int(value) if value else (full if FULL else small)


VALUES_MUTATIONS = size("values_mutations", 150, 600)
EXPOSURE_EXAMPLES = size("exposure_examples", 60, 300)
LOAD_REQUESTS = size("load_requests", 1_000, 10_000)
LOAD_CONCURRENCY = size("load_concurrency", 64, 64)
KILL_LOAD_REQUESTS = size("kill_load_requests", 600, 3_000)
FUZZ_EXAMPLES = size("fuzz_examples", 20, 200)
