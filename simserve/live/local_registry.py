"""A loopback OCI registry (Debian's ``docker-registry``) that simserve starts and stops.

Owns: the registry's config file and storage under simserve's private state directory (mode
0700), its credentials (a random password made at each start, kept in ``credentials.json``, mode
0600, with its bcrypt hash in the registry's ``htpasswd``: every request, reads, pushes and
deletes, needs them, so another local user can neither push nor delete), its process (started in
its own session, recorded in a pid file so ``simserve images registry stop`` can end it later,
always by pid), and listing what it stores. Listens on 127.0.0.1 only. ``registry_auth(ref)``
gives the credentials to pull or push an image reference stored here. Nothing here talks to a
container engine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from simserve.live.engine_service import state_dir, stop_pid

#: the user name of a registry's credentials (the password is random, made at each start)
USERNAME = "simserve"


class RegistryError(RuntimeError):
    """The registry binary is missing, failed to start, or is not answering."""


def _binary() -> str:
    for name in ("docker-registry", "registry"):
        path = shutil.which(name)
        if path:
            return path
    raise RegistryError("no registry binary: apt-get install docker-registry (scripts/setup-podman.sh does it)")


def _get_json(url: str, auth: dict[str, str] | None = None, timeout_s: float = 2.0) -> object:
    request = urllib.request.Request(url)  # noqa: S310 - loopback http
    if auth:
        token = base64.b64encode(f"{auth['username']}:{auth['password']}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=timeout_s) as resp:  # noqa: S310 - loopback http
        return json.loads(resp.read() or b"{}")


#: bcrypt's work factor (log2 rounds), its minimum: the registry checks the password on every request (at the
#: default 12, ~0.25 s of CPU each, which made a loaded machine's pushes slow and its health probe time out), and
#: the password is 24 random bytes (``secrets.token_urlsafe(24)``, 192 bits), which no work factor needs to slow
#: down a guess at
BCRYPT_ROUNDS = 4


def _bcrypt(password: str) -> str:
    """A bcrypt hash of ``password`` (the only kind docker-registry's htpasswd accepts), ``BCRYPT_ROUNDS``."""
    try:
        import bcrypt

        return str(bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode())
    except ImportError:
        pass
    try:
        import crypt  # standard library up to Python 3.12 (glibc's libxcrypt has bcrypt)

        salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2**BCRYPT_ROUNDS)  # noqa: S324 - bcrypt, as required
        hashed = crypt.crypt(password, salt)
        if hashed and hashed.startswith("$2"):
            return hashed
    except (ImportError, AttributeError, OSError):
        pass
    raise RegistryError("the registry's password needs bcrypt: pip install bcrypt")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by this user only (a new file, created exclusively, then renamed)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@dataclass
class LocalRegistry:
    """A registry on ``127.0.0.1:port`` with its storage under ``directory``."""

    port: int = 5000
    directory: Path | None = None
    #: the registry this object started (it outlives the object when left running): ``stop`` settles its
    #: exit status, so the ``Popen`` does not report a child still running once it is gone
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False, compare=False)

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

    @property
    def credentials_file(self) -> Path:
        assert self.directory is not None
        return self.directory / "credentials.json"

    @property
    def auth_config(self) -> dict[str, str] | None:
        """``{"username", "password"}`` of the running registry (the Docker SDK's ``auth_config``), or None."""
        try:
            data = json.loads(self.credentials_file.read_text())
        except (OSError, ValueError):
            return None
        return {"username": str(data["username"]), "password": str(data["password"])} if "password" in data else None

    def is_up(self) -> bool:
        """True when ``/v2/`` answers (also with 401: it is up, and wants its credentials). A registry that is not
        there refuses at once; the 5 s bound is for one that is slow to answer on a loaded machine."""
        try:
            _get_json(f"http://{self.address}/v2/", self.auth_config, timeout_s=5.0)
        except urllib.error.HTTPError as exc:
            return exc.code == 401
        except (OSError, urllib.error.URLError, ValueError):
            return False
        return True

    def start(self, timeout_s: float = 15.0) -> int:
        """Start the registry (no-op if ours already runs); return its pid."""
        running = self.pid()
        if running is not None and self.is_up():
            return running
        assert self.directory is not None
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)  # this start's credentials: nobody without them pushes or deletes
        _write_private(self.directory / "htpasswd", f"{USERNAME}:{_bcrypt(password)}\n")
        creds = json.dumps({"username": USERNAME, "password": password}) + "\n"
        _write_private(self.credentials_file, creds)
        _write_private(_index(self.port), creds)  # found by port too (registry_auth), whatever the directory
        config = self.directory / "config.yml"
        _write_private(
            config,
            "version: 0.1\nlog: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.directory / 'data'}}}, "
            "delete: {enabled: true}}\n"
            f"http: {{addr: {self.address}}}\n"
            f"auth: {{htpasswd: {{realm: simserve, path: {self.directory / 'htpasswd'}}}}}\n",
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
        self.process = proc
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
        proc.poll()
        self.process = None
        raise RegistryError(f"registry on {self.address} did not answer within {timeout_s:.0f} s")

    def stop(self) -> bool:
        """Stop the registry simserve started here (by pid); False when none was running."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        with contextlib.suppress(Exception):
            _index(self.port).unlink(missing_ok=True)
        if pid is None:
            return False
        stop_pid(pid)  # waits for it (and reaps it, as our child)
        if self.process is not None and self.process.pid == pid:
            self.process.poll()  # reaped already: the Popen records an exit
            self.process = None
        return True

    def repositories(self) -> dict[str, list[str]]:
        """``{repository: [tags]}`` stored in the running registry."""
        auth = self.auth_config
        catalog = _get_json(f"http://{self.address}/v2/_catalog", auth)
        repos = catalog.get("repositories", []) if isinstance(catalog, dict) else []
        out: dict[str, list[str]] = {}
        for repo in sorted(repos or []):
            tags = _get_json(f"http://{self.address}/v2/{repo}/tags/list", auth)
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


def registry_auth(ref: str) -> dict[str, str] | None:
    """The credentials for an image reference in a loopback registry simserve runs
    (``127.0.0.1:PORT/...``), or None for any other reference."""
    m = re.match(r"127\.0\.0\.1:(\d+)/", ref)
    if m is None:
        return None
    try:
        data = json.loads(_index(int(m.group(1))).read_text())
    except Exception:  # noqa: BLE001 - no private state directory or no registry there: no credentials
        return None
    return {"username": str(data["username"]), "password": str(data["password"])}


def _index(port: int) -> Path:
    """The credentials of the registry on ``port``, by port, in the private state directory."""
    return state_dir() / f"registry-{port}.credentials.json"
