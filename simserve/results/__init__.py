"""What a run produced, from records to files: one package for the result family.

- ``result``: ``RunResult``, a run's tables and summary in memory (the Python API's return value);
- ``summary``: the summary dict of DESIGN.md from the jobs and worker tables;
- ``jobstats`` / ``workerstats``: streamed statistics over jobs and worker state intervals, so a
  run of any length keeps memory flat;
- ``invariants``: the checks every run's tables satisfy (job conservation, intervals tiling);
- ``replicate``: independent replications and their 95 % confidence intervals;
- ``outputs``: the run directory (writing it atomically, reading it back, table formats).

Nothing here decides a platform rule: the endpoint core wrote the records; this package only
summarises and stores them.
"""
