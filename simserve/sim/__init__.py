"""The SimPy model of a GPU serverless platform.

``simulate(scenario, seed=...)`` builds hosts, workers and the endpoint queue on a
``simpy.Environment`` and returns a ``RunResult``. Only this package imports simpy.
"""

from simserve.sim.engine import simulate_tables

__all__ = ["simulate_tables"]
