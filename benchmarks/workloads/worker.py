"""The child side of the driver's protocol: job requests in, one JSON result line per job out.

`keras_side.py` and `rnnlab_side.py` run as scripts in fresh processes (so each
framework starts cold, with its own threads and memory) and hand their table of
job functions to `serve`. Standard library only: it also runs in the Keras venv.
"""

from __future__ import annotations

import json
import resource
import sys
from collections.abc import Callable
from typing import Any

# Results are found by this prefix, so whatever a framework prints on stdout is ignored.
MARKER = "@@bench-result@@ "


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(jobs: dict[str, Callable[..., dict[str, Any]]]) -> None:
    """Run the requests in ``sys.argv[1]`` (a JSON list of {key, fn, params}) in order."""
    for request in json.loads(sys.argv[1]):
        result = jobs[request["fn"]](**request["params"])
        result["peak_rss_mb"] = peak_rss_mb()
        print(MARKER + json.dumps({"key": request["key"], **result}), flush=True)
