"""Hypothesis for the reliability suite: nothing written into the checkout, failures replayable.

Every property sets its own bounds (`tests.reliability.fuzzing.bounded`); this
profile only fixes what they share: no example database, and Hypothesis's own
caches (constants, Unicode tables) in the temporary directory instead of
``./.hypothesis``. The default run is derandomized: the same examples every
time, so CI is red only when the code changed, never by a draw.
``RNNLAB_FUZZ_SCALE=10`` runs ten times the examples of every property, drawn
afresh each time (a longer hunt than the default test run affords).
"""

import os
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

_user = os.getuid() if hasattr(os, "getuid") else "user"
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / f"rnnlab-hypothesis-{_user}")
_hunting = float(os.environ.get("RNNLAB_FUZZ_SCALE", "1")) > 1
settings.register_profile("reliability", database=None, print_blob=True, derandomize=not _hunting)
settings.load_profile("reliability")
