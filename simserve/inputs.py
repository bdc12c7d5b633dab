"""User input files and the one error type for bad input.

Owns ``ScenarioError`` (one line: the file, the field path and what was expected),
``read_text_file`` (a bounded, UTF-8 read of a file a user named) and ``not_a_regular_file`` (a named
pipe or a device is refused without being opened: reading one blocks for good or never ends). The
scenario package, the trace readers and the CLI raise and catch these; nothing here knows the
scenario's schema.
"""

from __future__ import annotations

import stat
from pathlib import Path


class ScenarioError(ValueError):
    """Bad scenario input: ``str(err)`` is one line naming the file, field path and expectation."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source, self.path, self.message = source, path, message
        where = f"{source}: {path}: " if path else f"{source}: "
        super().__init__(where + message)


#: what a path that is not a regular file is, by ``stat.S_IFMT`` of its mode
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def not_a_regular_file(path: Path) -> str:
    """``""`` when ``path`` is a regular file (after symlinks); else what it is, for an error message:
    ``"not found"``, ``"a named pipe"``, ``"a character device"``, ... Never opens the path, so a named
    pipe or a device answers at once (reading one would block for good, or never end)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return "not found"
    return "" if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_text_file(path: Path, label: str, max_bytes: int) -> str:
    """The text of a UTF-8 file (a BOM is allowed), or a one-line ``ScenarioError``: unreadable, too large,
    a directory, a named pipe or a device (refused before it is opened), or not UTF-8 (naming the first
    bad byte)."""
    kind = not_a_regular_file(path)
    if kind and kind != "not found":  # a missing file is the OSError below, with its own words
        raise ScenarioError(label, "", f"expected a file, got {kind}")
    try:
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
