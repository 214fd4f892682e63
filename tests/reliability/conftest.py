"""Hypothesis for the reliability suite: no example database in the checkout, failures replayable.

Every property sets its own bounds (`tests.reliability.fuzzing.bounded`); this
profile only fixes what they share. ``RNNLAB_FUZZ_SCALE=10`` runs ten times the
examples of every property (a longer hunt than the default test run affords).
"""

from hypothesis import settings

settings.register_profile("reliability", database=None, print_blob=True)
settings.load_profile("reliability")
