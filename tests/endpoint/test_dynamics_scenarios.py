"""The three platform-dynamics example scenarios run and show what they are about."""

from __future__ import annotations

from pathlib import Path

import pytest

import simserve
from simserve.results.invariants import check_alive_limit, check_jobs, check_tiling

ROOT = Path(__file__).resolve().parents[2]


def _run(name: str, **over: object) -> simserve.RunResult:
    path = ROOT / "scenarios" / f"{name}.yaml"
    assert path.read_text().startswith("# Covers:")
    r = simserve.simulate(path, overrides=dict(over) or None)
    check_jobs(r.jobs)
    check_tiling(r.workers, r.scenario.horizon)
    return r


def test_rolling_update() -> None:
    r = _run("rolling-update")
    d = r.summary["dynamics"]
    assert d["deploys"] == 1 and d["settings_changed"] == 1 and d["replaced"] >= 1
    w = r.workers
    outdated = w[w["state"].astype(str) == "outdated"]
    assert len(outdated) and outdated["start_s"].min() == pytest.approx(3 * 3600)
    flex = outdated[outdated["kind"].astype(str) == "flex"]  # active workers are billed in every state they run in
    assert len(flex) and (flex["billed"] == (flex["phase"].astype(str) == "busy")).all()  # billed while processing
    new_pulls = w[(w["phase"].astype(str) == "pull") & (w["start_s"] >= 3 * 3600)]
    assert len(new_pulls) >= 1  # the new image is a cache miss
    check_alive_limit(w[w["end_s"] <= 4 * 3600], 10)
    check_alive_limit(w, 14)


def test_crash_loop_piles_up_jobs() -> None:
    r = _run("crash-loop")
    req, d = r.summary["requests"], r.summary["dynamics"]
    assert d["crashes"] > 0 and d["init_failures"] > 0 and req["retried"] > 0
    assert req["in_flight"] + req["timed_out"] > req["completed"]  # jobs pile up
    assert r.summary["workers"]["mean_by_state"]["unhealthy"] > 2
    assert r.summary["cost_usd"]["by_state"]["unhealthy"] == 0.0


def test_busy_market_throttles_and_spreads() -> None:
    r = _run("busy-market")
    d = r.summary["dynamics"]
    assert d["throttle_episodes"] > 0
    assert r.summary["workers"]["mean_by_state"]["throttled"] > 0
    assert r.summary["cost_usd"]["by_state"]["throttled"] == 0.0
    assert set(r.workers.loc[r.workers["billed"], "gpu"].astype(str)) == {"H100", "A100"}


def test_resolved_dynamics_sections_round_trip(tmp_path: Path) -> None:
    """The resolved scenario written by `simserve run` reloads with its faults, events and tenants."""
    import yaml

    for name in ("rolling-update", "crash-loop", "busy-market"):
        sc = simserve.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        again = simserve.load_scenario(yaml.safe_load(yaml.safe_dump(sc.model_dump(mode="json"))))
        assert again.faults == sc.faults and again.events == sc.events and again.hosts == sc.hosts


def test_bad_dynamics_input_names_the_field() -> None:
    base = {"workload": {"arrivals": {"type": "poisson", "rate": 1}, "service": "1s"}}
    with pytest.raises(ValueError, match="unknown key"):
        simserve.load_scenario({**base, "faults": {"crash_rate": 1}})
    with pytest.raises(ValueError, match="exactly one of deploy or set"):
        simserve.load_scenario({**base, "events": [{"at": 10}]})
    with pytest.raises(ValueError, match="cannot change"):
        simserve.load_scenario({**base, "events": [{"at": 10, "set": {"endpoint.gpu": "A100"}}]})
    with pytest.raises(ValueError, match="active_workers"):
        simserve.load_scenario({**base, "events": [{"at": 10, "set": {"endpoint.active_workers": 9}}]})
    with pytest.raises(ValueError, match="other_tenants CSV not found"):
        simserve.load_scenario({**base, "hosts": [{"gpu": "H100", "count": 1, "other_tenants": "nope.csv"}]})
