"""Example images: built from local files, sized as tagged, pushed to and pulled from loopback."""

from __future__ import annotations

import tarfile
import time

import pytest

from simserve import images

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
        client.images.pull(remote)
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
