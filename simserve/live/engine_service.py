"""Connect to a container engine through the Docker Engine API, starting podman's service if needed.

Owns: finding an engine (``DOCKER_HOST``, a live ``/var/run/docker.sock``, else rootful podman),
simserve's state directory (``state_dir``: private to the user, mode 0700, refused when it is a
symbolic link or another user's), the podman config files simserve writes for each service it
starts (never in /etc; the same content as ``scripts/setup-podman.sh``), in a private directory
made for that service (``run_dir``) and removed with it, and the life of a ``podman system
service`` process that simserve started (stopped by its pid, never by name). Imports the optional ``docker`` SDK lazily;
nothing here knows about workers, images or policies.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from simserve.live.dockerapi import DockerClient
from simserve.live.procs import MARK_VAR

DEFAULT_REGISTRY = "127.0.0.1:5000"


class EngineUnavailable(RuntimeError):
    """No container engine can be reached; the message says why and what to install."""


def state_dir() -> Path:
    """simserve's private state directory for engine services and the loopback registry:
    ``$SIMSERVE_PODMAN_DIR``, else ``$XDG_RUNTIME_DIR/simserve``, else ``<tmp>/simserve-<uid>``; see
    ``private_dir``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    default = Path(runtime) / "simserve" if runtime else Path(tempfile.gettempdir()) / f"simserve-{os.getuid()}"
    return private_dir(Path(os.environ.get("SIMSERVE_PODMAN_DIR") or default))


def private_dir(path: Path) -> Path:
    """``path`` as a directory only this user can enter (created with mode 0700; an existing one of ours
    is made 0700); ``EngineUnavailable`` when it is a symbolic link, not a directory, or another user's."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise EngineUnavailable(f"{path}: not a directory (a symbolic link?); remove it or set SIMSERVE_PODMAN_DIR")
    if st.st_uid != os.getuid():
        raise EngineUnavailable(
            f"{path}: owned by user {st.st_uid}, not this user; remove it or set SIMSERVE_PODMAN_DIR"
        )
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def run_dir(prefix: str = "service-") -> Path:
    """A new private directory under ``state_dir()`` for one service's socket, config and log."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=state_dir()))


def _hard_limit(kind: int, cap: int) -> int:
    hard = resource.getrlimit(kind)[1]
    return cap if hard == resource.RLIM_INFINITY else min(hard, cap)


POLICY_PATHS = (Path("/etc/containers/policy.json"), Path.home() / ".config/containers/policy.json")
"""Where podman looks for the signature policy every image load and pull needs."""


def write_podman_config(directory: Path, registries: tuple[str, ...] = ()) -> dict[str, str]:
    """Write containers.conf (runc, grantable ulimits) and registries.conf; return the env to use.

    ``registries`` are extra ``host:port`` registries marked insecure (plain HTTP on loopback);
    127.0.0.1:5000 is always listed. Files are rewritten only when their content changes.
    """
    nofile = _hard_limit(resource.RLIMIT_NOFILE, 1048576)
    nproc = _hard_limit(resource.RLIMIT_NPROC, 32768)  # podman lowers its own NPROC to 32768
    containers = (
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
    )
    locations = dict.fromkeys((DEFAULT_REGISTRY, *registries))
    registries_text = "unqualified-search-registries = []\n" + "".join(
        f'[[registry]]\nlocation = "{loc}"\ninsecure = true\n' for loc in locations
    )
    suffix = "" if not registries else "-" + "-".join(r.replace(":", "_") for r in registries)
    files = {
        "CONTAINERS_CONF": (directory / "containers.conf", containers),
        "CONTAINERS_REGISTRIES_CONF": (directory / f"registries{suffix}.conf", registries_text),
    }
    env: dict[str, str] = {}
    for var, (path, text) in files.items():
        if not path.exists() or path.read_text() != text:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)  # exclusive: no planted link
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, path)
        env[var] = str(path)
    return env


def _import_docker() -> ModuleType:
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise EngineUnavailable(
            "the docker SDK is not installed: pip install 'simserve[live]' (or pip install docker)"
        ) from exc
    return docker


def _ping(base_url: str, timeout_s: float = 2.0) -> bool:
    docker = _import_docker()
    try:
        client = docker.DockerClient(base_url=base_url, timeout=timeout_s)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def stop_pid(pid: int, grace_s: float = 5.0) -> None:
    """SIGTERM ``pid``'s process group, SIGKILL after ``grace_s``; wait until it is gone."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child: poll for existence
                done = 0 if Path(f"/proc/{pid}").exists() else pid
            if done == pid:
                return
            time.sleep(0.02)


@dataclass
class PodmanService:
    """A ``podman system service`` simserve started on a private Unix socket in ``directory``
    (removed with the service when ``owns_directory``)."""

    directory: Path
    registries: tuple[str, ...] = ()
    owns_directory: bool = False
    #: a live run's mark, put in the service's environment so the run's reaper ends it with the run
    mark: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    socket_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.socket_path = self.directory / f"podman-{os.getpid()}-{id(self):x}.sock"

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the service and wait until it answers ``_ping``; raise EngineUnavailable if not."""
        podman = shutil.which("podman")
        if podman is None:
            raise EngineUnavailable("no Docker engine and no podman: install Docker, or run scripts/setup-podman.sh")
        if not any(p.is_file() for p in POLICY_PATHS):
            raise EngineUnavailable(
                f"podman has no signature policy ({POLICY_PATHS[0]} is missing), so it cannot load or pull "
                "images: reinstall golang-github-containers-common, or run scripts/setup-podman.sh"
            )
        env = {**os.environ, **write_podman_config(self.directory, self.registries)}
        if self.mark:
            env[MARK_VAR] = f"{self.mark}.engine"
        self.socket_path.unlink(missing_ok=True)
        log = open(self.directory / "podman-service.log", "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [podman, "system", "service", "--time=0", self.base_url],
            env=env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineUnavailable(
                    f"podman system service exited with {self.process.returncode}; "
                    f"see {self.directory / 'podman-service.log'}"
                )
            if self.socket_path.exists() and _ping(self.base_url):
                return
            time.sleep(0.05)
        self.stop()
        raise EngineUnavailable(f"podman system service did not answer within {timeout_s:.0f} s")

    def stop(self) -> None:
        """Stop the service (by its pid) and remove its socket."""
        if self.process is not None:
            stop_pid(self.process.pid)
            self.process.wait()
            self.process = None
        self.socket_path.unlink(missing_ok=True)
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class EngineSession:
    """A connected Docker SDK client plus the podman service behind it, if simserve started one."""

    client: DockerClient
    kind: str  # "docker" | "podman"
    base_url: str
    service: PodmanService | None = None

    def close(self) -> None:
        """Close the client and stop the service simserve started (a user's engine keeps running)."""
        try:
            self.client.close()
        finally:
            if self.service is not None:
                self.service.stop()
                self.service = None

    def __enter__(self) -> EngineSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kind_of(client: DockerClient) -> str:
    try:
        components = client.version().get("Components", [])
    except Exception:  # noqa: BLE001
        return "docker"
    names = " ".join(str(c.get("Name", "")) for c in components).lower()
    return "podman" if "podman" in names else "docker"


def connect(
    engine: str = "auto", registries: tuple[str, ...] = (), timeout_s: float = 300.0, mark: str | None = None
) -> EngineSession:
    """Connect to ``engine`` ("auto", "docker" or "podman").

    auto: ``DOCKER_HOST`` when set, else ``/var/run/docker.sock`` when it answers, else a private
    ``podman system service``. ``registries`` are loopback ``host:port`` registries to trust over
    plain HTTP (Docker trusts 127.0.0.0/8 by default; podman gets them in its registries.conf). ``mark``: a
    live run's mark for a podman service started here (``simserve.live.reaper`` ends it with the run).
    """
    docker = _import_docker()
    if engine in ("auto", "docker"):
        candidates = [os.environ["DOCKER_HOST"]] if os.environ.get("DOCKER_HOST") else []
        if Path("/var/run/docker.sock").exists():
            candidates.append("unix:///var/run/docker.sock")
        for url in candidates:
            if _ping(url):
                client = docker.DockerClient(base_url=url, timeout=timeout_s)
                return EngineSession(client=client, kind=_kind_of(client), base_url=url)
        if engine == "docker" and shutil.which("podman") is None:
            raise EngineUnavailable(
                "no Docker engine answers (DOCKER_HOST, /var/run/docker.sock) and podman is "
                "not installed: run scripts/setup-podman.sh"
            )
    service = PodmanService(run_dir(), registries, owns_directory=True, mark=mark)  # private, made for this service
    try:
        service.start()
    except BaseException:
        service.stop()
        raise
    try:
        client = docker.DockerClient(base_url=service.base_url, timeout=timeout_s)
    except Exception:
        service.stop()
        raise
    return EngineSession(client=client, kind="podman", base_url=service.base_url, service=service)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
