"""The documentation site: generated pages current, the Sphinx build clean with warnings as errors, and the
reference pages complete against the schema and the commands (``scripts/docs.py``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scripts import docs

pytest.importorskip("sphinx", reason="the docs extra: pip install -e '.[docs]'")
pytest.importorskip("myst_parser", reason="the docs extra: pip install -e '.[docs]'")


def test_generated_pages_are_what_the_code_and_the_readme_say() -> None:
    assert docs.stale_reference() == [], "run: python -m scripts.docs"


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    result = docs.build(tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    pages = ["index", *(page for pages in docs.NAV.values() for page in pages)]
    missing = [p for p in pages if not (tmp_path / "site" / f"{p}.html").is_file()]
    assert missing == []
    on_disk = {p.relative_to(docs.DOCS).with_suffix("").as_posix() for p in docs.DOCS.rglob("*.md")}
    assert on_disk == set(pages), "every page in docs/ is in the navigation, and every page there exists"
    home = (tmp_path / "site" / "index.html").read_text()
    assert "Five-minute tour" in home and 'href="reference/scenario.html"' in home


def test_a_broken_link_an_unknown_anchor_or_an_orphan_page_fails_the_build(tmp_path: Path) -> None:
    src = tmp_path / "docs"
    src.mkdir()
    (src / "conf.py").write_text((docs.DOCS / "conf.py").read_text())
    (src / "index.md").write_text(
        "# Home\n\n[gone](nope.md), [no such heading](other.md#nowhere)\n\n```{toctree}\nother\n```\n"
    )
    (src / "other.md").write_text("# Other\n")
    (src / "orphan.md").write_text("# Orphan\n")
    result = docs.build(tmp_path / "site", src)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'nope.md'" in out and "'nowhere'" in out and "orphan.md" in out, out


def _schema_keys(schema: dict, node: dict, seen: set[str]) -> set[str]:
    """Every property name reachable in a JSON schema (through $ref, anyOf, items, additionalProperties)."""
    keys: set[str] = set()
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return keys
        seen.add(name)
        return _schema_keys(schema, schema["$defs"][name], seen)
    for key, sub in node.get("properties", {}).items():
        keys.add(key)
        keys |= _schema_keys(schema, sub, seen)
    for branch in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(branch, []):
            keys |= _schema_keys(schema, sub, seen)
    for branch in ("items", "additionalProperties"):
        if isinstance(node.get(branch), dict):
            keys |= _schema_keys(schema, node[branch], seen)
    return keys


def test_the_scenario_reference_has_every_key_of_the_json_schema() -> None:
    from simserve.scenario.loading import scenario_json_schema

    schema = scenario_json_schema()
    keys = _schema_keys(schema, schema, set())
    page = docs.scenario_reference()
    listed = set(re.findall(r"^\| `([^`]+)` \|", page, flags=re.MULTILINE))
    assert len(keys) > 80 and keys - listed == set()
    assert "| `idle_timeout` | duration: seconds" in page  # units come with the type
    assert re.search(r"\| `max_workers` \| integer \| 3 \| >= 0, <= 10,000 \|", page)  # default and bounds


def test_the_cli_reference_has_every_command_and_option() -> None:
    import typer

    from simserve.cli import app

    page = docs.cli_reference()
    group = typer.main.get_command(app)
    ctx = group.context_class(group, info_name="simserve")

    def walk(cmd, path):  # the click commands typer really builds, independent of the page's own reading
        sub_ctx = cmd.context_class(cmd, info_name=path[-1], parent=ctx)
        names = cmd.list_commands(sub_ctx) if hasattr(cmd, "list_commands") else None
        if names is None:
            yield " ".join(path), cmd
            return
        for name in names:
            yield from walk(cmd.get_command(sub_ctx, name), [*path, name])

    commands = list(walk(group, ["simserve"]))
    assert len(commands) >= 12
    for name, cmd in commands:
        if cmd.hidden:
            continue
        assert f"## {name}\n" in page, name
        section = page.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for p in cmd.params:
            if p.param_type_name == "option" and p.name != "help":
                assert f"`{p.opts[0]}" in section, (name, p.opts)
