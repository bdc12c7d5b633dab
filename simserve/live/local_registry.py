"""A loopback OCI registry (Debian's ``docker-registry``) that simserve starts and stops.

Owns: the registry's config file and storage under the state directory, its process (started in
its own session, recorded in a pid file so ``simserve images registry stop`` can end it later,
always by pid), and listing what it stores. Listens on 127.0.0.1 only. Nothing here talks to a
container engine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from simserve.live.engine_service import state_dir, stop_pid


class RegistryError(RuntimeError):
    """The registry binary is missing, failed to start, or is not answering."""


def _binary() -> str:
    for name in ("docker-registry", "registry"):
        path = shutil.which(name)
        if path:
            return path
    raise RegistryError("no registry binary: apt-get install docker-registry (scripts/setup-podman.sh does it)")


def _get_json(url: str, timeout_s: float = 2.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - loopback http
        return json.loads(resp.read() or b"{}")


@dataclass
class LocalRegistry:
    """A registry on ``127.0.0.1:port`` with its storage under ``directory``."""

    port: int = 5000
    directory: Path | None = None

    def __post_init__(self) -> None:
        if self.directory is None:
            self.directory = state_dir() / f"registry-{self.port}"

    @property
    def address(self) -> str:
        """``host:port``, the prefix of image references stored here."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        assert self.directory is not None
        return self.directory / "registry.pid"

    def pid(self) -> int | None:
        """The pid of the running registry simserve started here, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"registry" in cmdline and str(self.directory).encode() in cmdline else None

    def is_up(self) -> bool:
        """True when ``/v2/`` answers."""
        try:
            _get_json(f"http://{self.address}/v2/", timeout_s=0.5)
        except (OSError, urllib.error.URLError, ValueError):
            return False
        return True

    def start(self, timeout_s: float = 15.0) -> int:
        """Start the registry (no-op if ours already runs); return its pid."""
        running = self.pid()
        if running is not None and self.is_up():
            return running
        assert self.directory is not None
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        config = self.directory / "config.yml"
        config.write_text(
            "version: 0.1\nlog: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.directory / 'data'}}}, "
            "delete: {enabled: true}}\n"
            f"http: {{addr: {self.address}}}\n"
        )
        log = open(self.directory / "registry.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(
            [_binary(), "serve", str(config)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise RegistryError(
                    f"registry exited with {proc.returncode} (port {self.port} in use?); "
                    f"see {self.directory / 'registry.log'}"
                )
            if self.is_up():
                return proc.pid
            time.sleep(0.05)
        stop_pid(proc.pid)
        raise RegistryError(f"registry on {self.address} did not answer within {timeout_s:.0f} s")

    def stop(self) -> bool:
        """Stop the registry simserve started here (by pid); False when none was running."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        stop_pid(pid)
        return True

    def repositories(self) -> dict[str, list[str]]:
        """``{repository: [tags]}`` stored in the running registry."""
        catalog = _get_json(f"http://{self.address}/v2/_catalog")
        repos = catalog.get("repositories", []) if isinstance(catalog, dict) else []
        out: dict[str, list[str]] = {}
        for repo in sorted(repos or []):
            tags = _get_json(f"http://{self.address}/v2/{repo}/tags/list")
            out[repo] = sorted((tags.get("tags") or []) if isinstance(tags, dict) else [])
        return out

    def __enter__(self) -> LocalRegistry:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def registry_env_port() -> int:
    """The default registry port: $SIMSERVE_REGISTRY_PORT or 5000."""
    return int(os.environ.get("SIMSERVE_REGISTRY_PORT", "5000"))
