"""Simulator speed against its peers, as ratios measured side by side in one process.

Cases (issue #2's targets):
  A  per_request on SimFaaS's workload (lambda 0.9/s, warm 1.99 s, 600 s expiration, ~1M
     arrivals): simserve jobs/s vs SimFaaS jobs/s (target >= 3x).
  B  per_request with ~1000 workers alive (lambda 500/s, 2 s service): target >= 30x SimFaaS.
  C  active workers only, M/M/c (c = 8, rho = 0.8), 1M jobs: target >= 4x ciw; peak memory
     of the simserve run (in a subprocess) under 1 GB.
CPU time (``time.process_time``) is the measure; each side runs ``--repeat`` times
alternately and the median ratio is reported. simserve's time includes building the
tables and the summary (what ``simserve.simulate`` returns); the peers' only their loop.

Usage: python benchmarks/bench_sim.py [--quick] [--repeat N] [--faults]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

import simserve

LAMBDA = "scenarios/lambda-style.yaml"


def _cpu(fn):  # type: ignore[no-untyped-def]
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def sim_per_request(
    rate: float, service_s: float, horizon_s: float, expiration_s: float, cold_extra_s: float, faults: bool
) -> tuple[float, int]:
    overrides = {
        "horizon": horizon_s,
        "workload.arrivals": {"type": "poisson", "rate": rate},
        "workload.service": {"dist": "exponential", "mean": service_s},
        "endpoint.idle_timeout": expiration_s,
        "cold_start.handler_init": cold_extra_s,
        "endpoint.max_workers": 5000,
    }
    if faults:
        overrides["faults"] = {"init_failure_prob": 0.0, "crash_rate_per_hour": 0.0}
    sc = simserve.load_scenario(LAMBDA, overrides)
    dt, r = _cpu(lambda: simserve.simulate(sc, seed=1))
    return dt, r.summary["requests"]["arrived"]


def simfaas_run(
    rate: float, service_s: float, horizon_s: float, expiration_s: float, cold_s: float
) -> tuple[float, int]:
    from simfaas.ServerlessSimulator import ServerlessSimulator

    np.random.seed(1)  # noqa: NPY002 - SimFaaS draws from numpy's global state
    sim = ServerlessSimulator(
        arrival_rate=rate,
        warm_service_rate=1 / service_s,
        cold_service_rate=1 / cold_s,
        expiration_threshold=expiration_s,
        max_time=horizon_s,
        maximum_concurrency=5000,
    )
    dt, _ = _cpu(lambda: sim.generate_trace(debug_print=False, progress=False))
    return dt, int(sim.get_result_dict()["reqs_total"])


def sim_mmc(n_jobs: int, c: int = 8, rho: float = 0.8) -> tuple[float, int]:
    lam = rho * c
    sc = simserve.load_scenario(
        {
            "name": "mmc",
            "horizon": n_jobs / lam,
            "endpoint": {
                "gpu": "A4000",
                "active_workers": c,
                "max_workers": c,
                "extra_workers": 0,
                "scaler": {"type": "queue_delay", "value": 1e9},
                "scaler_interval": 1e9,
            },
            "cold_start": {"image_size": 0, "container_start": 0, "handler_init": 0},
            "workload": {"arrivals": {"type": "poisson", "rate": lam}, "service": {"dist": "exponential", "mean": 1.0}},
        }
    )
    dt, r = _cpu(lambda: simserve.simulate(sc, seed=1))
    return dt, r.summary["requests"]["arrived"]


def ciw_mmc(n_jobs: int, c: int = 8, rho: float = 0.8) -> tuple[float, int]:
    import ciw

    lam = rho * c
    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(lam)],
        service_distributions=[ciw.dists.Exponential(1.0)],
        number_of_servers=[c],
    )
    ciw.seed(1)
    q = ciw.Simulation(net)
    dt, _ = _cpu(lambda: q.simulate_until_max_customers(n_jobs, method="Complete"))
    return dt, len(q.get_all_records())


def peak_rss_mb(n_jobs: int) -> float:
    """Peak RSS of a fresh process running the M/M/c case.

    Read from /proc/self/status VmHWM, not ru_maxrss: Linux carries the parent's high-water
    mark into a forked-then-exec'd child's ru_maxrss, which would count this big process.
    """
    code = (
        "import sys; sys.path.insert(0, 'benchmarks'); import bench_sim; "
        f"bench_sim.sim_mmc({n_jobs}); "
        "print([int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0] / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def paired(a, b, repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    ratios, rates_a, rates_b = [], [], []
    for _ in range(repeat):
        ta, na = a()
        tb, nb = b()
        ra, rb = na / ta, nb / tb
        rates_a.append(ra)
        rates_b.append(rb)
        ratios.append(ra / rb)
    return {
        "simserve_jobs_per_s": statistics.median(rates_a),
        "peer_jobs_per_s": statistics.median(rates_b),
        "ratio": statistics.median(ratios),
        "ratios": ratios,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10x smaller runs")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--faults", action="store_true", help="run simserve with the faults section present (all zero)")
    ap.add_argument("--cases", default="ABC")
    args = ap.parse_args()
    k = 0.1 if args.quick else 1.0
    out: dict[str, object] = {}
    if "A" in args.cases:
        out["A_per_request_simfaas_workload"] = paired(
            lambda: sim_per_request(0.9, 1.99, 1e6 * k, 600, 0.02, args.faults),
            lambda: simfaas_run(0.9, 1.99, 1e6 * k, 600, 2.01),
            args.repeat,
        )
    if "B" in args.cases:
        # SimFaaS is O(instances) per event: give it fewer arrivals; the ratio is of jobs per second
        out["B_per_request_1000_workers"] = paired(
            lambda: sim_per_request(500, 2.0, 400 * k * 5, 60, 0.5, args.faults),
            lambda: simfaas_run(500, 2.0, 40 * k * 5, 60, 2.5),
            args.repeat,
        )
    if "C" in args.cases:
        n = int(1_000_000 * k)
        out["C_mmc_active_only"] = paired(lambda: sim_mmc(n), lambda: ciw_mmc(max(n // 5, 20_000)), args.repeat)
        out["C_peak_rss_mb_simserve_1M"] = peak_rss_mb(n)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
