"""Bad input exits 2 with one line naming the file, the field path and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, strategies as st

import simserve
from simserve.cli import main
from simserve.scenario import ScenarioError

QUICK = Path("scenarios/quickstart.yaml")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return p


def _with(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(QUICK.read_text())
    for dotted, value in changes.items():
        node = data
        keys = dotted.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return _write(tmp_path, yaml.safe_dump(data))


CASES = {
    "malformed_yaml": (lambda t: _write(t, "name: x\nendpoint: [unclosed\n"), "", "malformed YAML"),
    "unknown_key": (lambda t: _with(t, endpoint__max_wrkers=3), "endpoint.max_wrkers", "unknown key"),
    "wrong_unit": (lambda t: _with(t, cold_start__image_size="8 parsecs"), "cold_start.image_size", "a size"),
    "wrong_rate": (
        lambda t: _with(t, workload__arrivals={"type": "poisson", "rate": "5 per day"}),
        "workload.arrivals.rate",
        "a rate",
    ),
    "negative_duration": (lambda t: _with(t, endpoint__idle_timeout="-5s"), "endpoint.idle_timeout", "a duration"),
    "active_over_max": (lambda t: _with(t, endpoint__active_workers=5), "endpoint", "must not exceed max_workers"),
    "unknown_gpu": (lambda t: _with(t, endpoint__gpu=["H1000"]), "endpoint.gpu", "unknown GPU 'H1000'"),
    "missing_trace": (
        lambda t: _with(t, workload__arrivals={"type": "trace", "path": "nope.csv"}),
        "workload.arrivals.path",
        "trace file not found",
    ),
    "bad_dist": (
        lambda t: _with(t, workload__service={"dist": "weibull", "mean": 2}),
        "workload.service",
        "expected 'dist' to be one of",
    ),
    "top_level_list": (lambda t: _write(t, "- 1\n- 2\n"), "", "YAML mapping"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_exits_2_with_one_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, field, expected = CASES[case]
    path = make(tmp_path)
    rc = main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--no-plots"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert str(path) in err
    if field:
        assert f": {field}: " in err, err
    assert expected in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "summary.json").exists()


def test_validate_reports_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _with(tmp_path, endpoint__max_workers=-1)
    assert main(["validate", str(QUICK), str(bad)]) == 2
    assert "endpoint.max_workers" in capsys.readouterr().err


def test_bad_set_override(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc = main(["run", str(QUICK), "--set", "endpoint.max_workers", "--out", str(tmp_path), "--quiet"])
    assert rc == 2
    assert "dotted.key=value" in capsys.readouterr().err


def test_missing_scenario_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "does/not/exist.yaml"]) == 2
    assert "does/not/exist.yaml: cannot read file" in capsys.readouterr().err


yaml_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-10, 10**6),
        st.floats(allow_nan=True),
        st.text(max_size=12),
        st.sampled_from(["5s", "8GB", "0.5/s", "-1s", "2h", "H100", "per_request"]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
keys = st.sampled_from(
    [
        "name",
        "seed",
        "horizon",
        "warmup",
        "endpoint",
        "endpoint.gpu",
        "endpoint.max_workers",
        "endpoint.scaler",
        "endpoint.idle_timeout",
        "cold_start",
        "cold_start.model",
        "cold_start.container_start",
        "hosts",
        "workload",
        "workload.arrivals",
        "workload.service",
        "pricing",
        "billing",
        "billing.states",
        "bogus",
    ]
)


@given(st.dictionaries(keys, yaml_values, max_size=4))
def test_loader_fuzz_never_tracebacks(overrides: dict) -> None:
    """Any mutation of a valid scenario either loads or raises ScenarioError (one line)."""
    try:
        simserve.load_scenario(QUICK, overrides)
    except ScenarioError as err:
        assert "\n" not in str(err)
        assert str(err).startswith((str(QUICK), "--set"))


@given(st.text(max_size=200))
def test_loader_fuzz_raw_text(text: str) -> None:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(text)
    try:
        simserve.load_scenario(fh.name)
    except ScenarioError as err:
        assert "\n" not in str(err)
    finally:
        Path(fh.name).unlink()
