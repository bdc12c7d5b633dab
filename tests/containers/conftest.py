"""Fixtures for the container tests: a podman service (or the user's Docker), a loopback registry.

Every fixture checks on teardown that what it started is gone, by id: the engine service pid,
the registry pid, and every container created during the test. Tests skip with a reason when no
engine can be reached (run scripts/setup-podman.sh) or the docker SDK is missing.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

docker = pytest.importorskip("docker", reason="the docker SDK is not installed (pip install docker)")

from simserve.live.engine_service import EngineSession, EngineUnavailable, connect, free_port  # noqa: E402
from simserve.live.local_registry import LocalRegistry, RegistryError  # noqa: E402

pytestmark = pytest.mark.container


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="session")
def registry_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def engine(registry_port: int) -> Iterator[EngineSession]:
    if (
        shutil.which("podman") is None
        and not os.environ.get("DOCKER_HOST")
        and not Path("/var/run/docker.sock").exists()
    ):
        pytest.skip("no container engine: run scripts/setup-podman.sh (or install Docker)")
    try:
        session = connect("auto", registries=(f"127.0.0.1:{registry_port}",))
    except EngineUnavailable as exc:
        pytest.skip(f"container engine unavailable: {exc}")
    pid = session.service.pid if session.service is not None else None
    service_dir = session.service.directory if session.service is not None else None
    if service_dir is not None:  # made for this service, private
        assert service_dir.stat().st_mode & 0o777 == 0o700 and service_dir.parent.stat().st_mode & 0o777 == 0o700
    yield session
    session.close()
    if pid is not None:
        assert not _pid_alive(pid), f"podman service {pid} still running"
    if service_dir is not None:
        assert not service_dir.exists(), f"{service_dir} left behind"


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory, registry_port: int) -> Iterator[LocalRegistry]:
    reg = LocalRegistry(port=registry_port, directory=tmp_path_factory.mktemp("registry"))
    try:
        pid = reg.start()
    except RegistryError as exc:
        pytest.skip(f"loopback registry unavailable: {exc}")
    yield reg
    assert reg.stop()
    assert not _pid_alive(pid), f"registry {pid} still running"
    assert not reg.is_up()


@pytest.fixture
def no_leaks(engine: EngineSession) -> Iterator[Any]:
    """Asserts that no container created during the test is left (checked by id)."""

    def ids() -> set[str]:  # ids only: a container removed while listing is not an error
        return {c["Id"] for c in engine.client.api.containers(all=True, quiet=True)}

    before = ids()
    yield engine
    deadline = time.monotonic() + 20.0  # a busy engine finishes a removal it accepted a moment later
    while True:
        left = sorted(i[:12] for i in ids() - before)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert left == [], f"containers left behind: {left}"


@pytest.fixture
def sleep_handler(tmp_path: Path) -> Path:
    path = tmp_path / "handlers" / "sleep.py"
    path.parent.mkdir()
    src = Path(__file__).resolve().parents[2] / "examples" / "handlers" / "sleep.py"
    path.write_text(
        src.read_text()
        if src.exists()
        else "import time\n\ndef handler(job):\n"
        "    time.sleep(float(job['input'].get('service_s', 0)))\n    return {}\n"
    )
    return path
