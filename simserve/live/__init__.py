"""The live engine: the endpoint core's decisions carried out on real worker processes or containers
(``LiveExecutor``), or on a virtual clock with ``--runtime simulated``; measured phases, latency and
billed seconds in the same tables as the simulator's."""
