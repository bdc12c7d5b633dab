"""The simulator: the endpoint core's decisions carried out in simulated time on SimPy.

``simulate_tables(scenario, seed)`` runs one replication and returns its ``Recorder``.
``kernel.py`` is the only module that touches SimPy internals; ``driver.py`` carries the
core's effects out on it. Only this package imports simpy.
"""

from simserve.sim.driver import simulate_tables

__all__ = ["simulate_tables"]
