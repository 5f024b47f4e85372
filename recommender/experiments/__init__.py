"""Online experiments: A/B tests and self-optimising slots (README "Experiments").

- ``assignment``: ``choose_variant(slot, ...)``, the one hook ``recommend()`` calls.
- ``exposure``: one row per rendered experiment slot.
- ``attribution``: clicks, add-to-carts and purchases joined to exposures (one SQL query).
- ``statistics``: intervals, tests, Bayesian probabilities, SRM, the sample-size planner.
- ``report``: per-variant results for the admin, the API and the benchmark.
- ``bandit``: Thompson sampling shares, recomputed by a beat task.

Import the submodules directly; this package imports nothing on its own.
"""
