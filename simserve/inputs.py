"""User input files and the one error type for bad input.

Owns ``ScenarioError`` (one line: the file, the field path and what was expected) and
``read_text_file`` (a bounded, UTF-8 read of a file a user named). The scenario package, the trace
readers and the CLI raise and catch these; nothing here knows the scenario's schema.
"""

from __future__ import annotations

from pathlib import Path


class ScenarioError(ValueError):
    """Bad scenario input: ``str(err)`` is one line naming the file, field path and expectation."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source, self.path, self.message = source, path, message
        where = f"{source}: {path}: " if path else f"{source}: "
        super().__init__(where + message)


def read_text_file(path: Path, label: str, max_bytes: int) -> str:
    """The text of a UTF-8 file (a BOM is allowed), or a one-line ``ScenarioError``: unreadable, too large,
    a directory, or not UTF-8 (naming the first bad byte)."""
    try:
        if path.is_dir():
            raise ScenarioError(label, "", "expected a file, got a directory")
        size = path.stat().st_size
        if size > max_bytes:
            raise ScenarioError(label, "", f"expected a file under {max_bytes // 1024} KiB; got {size} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(label, "", f"cannot read file ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            label, "", f"expected UTF-8 text; byte 0x{data[exc.start]:02x} on line {line} is not UTF-8"
        ) from None
