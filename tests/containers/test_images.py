"""Example images: built from local files, sized as tagged, pushed to and pulled from loopback."""

from __future__ import annotations

import tarfile
import time

import pytest

from simserve.live import images

pytestmark = [pytest.mark.container, pytest.mark.xdist_group("containers")]  # one engine service


def test_archive_layers_and_size(tmp_path, sleep_handler):
    out = images.write_archive(sleep_handler, 3, tmp_path / "a.tar")
    with tarfile.open(out) as tar:
        names = tar.getnames()
        assert "manifest.json" in names and sum(n.endswith("/layer.tar") for n in names) == 3
    assert 3 * images.MIB <= out.stat().st_size < 3 * images.MIB + 2 * images.MIB
    # deterministic: the same inputs give the same bytes (layer digests reused on re-push)
    again = images.write_archive(sleep_handler, 3, tmp_path / "b.tar")
    assert again.read_bytes() == out.read_bytes()


def test_build_push_pull_roundtrip(engine, registry, sleep_handler, no_leaks):
    client = engine.client
    built = images.build_image(client, sleep_handler, 6)
    try:
        assert built.ref == "localhost/simserve-sleep:6mb"
        assert 6 * images.MIB <= built.size_bytes < 8 * images.MIB
        assert any(r["ref"] == built.ref for r in images.list_images(client))
        remote = images.push_image(client, built.ref, registry.address)
        assert registry.repositories() == {"simserve-sleep": ["6mb"]}
        t0 = time.monotonic()
        client.images.pull(remote, auth_config=registry.auth_config)
        assert time.monotonic() - t0 < 30
        # detached + bounded wait: an attached log stream can block forever if the engine stalls
        ctr = client.containers.run(remote, ["/bin/sh", "-c", "ls /app; echo ok"], detach=True, network_mode="none")
        try:
            assert ctr.wait(timeout=60)["StatusCode"] == 0
            assert ctr.logs().split() == [b"sleep.py", b"ok"]
        finally:
            ctr.remove(force=True)
    finally:
        for ref in (built.ref, f"{registry.address}/simserve-sleep:6mb"):
            images.remove_image(client, ref)
    refs = {r["ref"] for r in images.list_images(client)}
    assert built.ref not in refs and f"{registry.address}/simserve-sleep:6mb" not in refs


def test_registry_refuses_requests_without_the_runs_credentials(registry):
    """The loopback registry lives in a private directory and answers only with the credentials made at its
    start: another local user can neither list, push nor delete."""
    import json
    import stat
    import urllib.error
    import urllib.request

    assert stat.S_IMODE(registry.credentials_file.stat().st_mode) == 0o600
    auth = registry.auth_config
    assert auth is not None and len(auth["password"]) >= 32
    # bcrypt at its least work (4): 192 random bits need no slowing down, and the registry checks every request
    hashed = (registry.directory / "htpasswd").read_text().strip().split(":", 1)[1]
    assert hashed.split("$")[2] == "04", hashed[:7]
    for method, path in [("GET", "/v2/_catalog"), ("POST", "/v2/x/blobs/uploads/"), ("DELETE", "/v2/x/manifests/y")]:
        request = urllib.request.Request(f"http://{registry.address}{path}", method=method)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=5)  # noqa: S310 - loopback http
        err.value.close()  # the error holds the response and its socket
        assert err.value.code == 401, (method, path)
    assert registry.is_up() and registry.repositories() == {}  # with its credentials it answers
    assert json.loads(registry.credentials_file.read_text())["username"] == "simserve"
