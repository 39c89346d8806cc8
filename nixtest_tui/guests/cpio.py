"""A reproducible writer for the `newc` cpio format that the Linux initramfs loader reads.

Written in Python rather than shelling out to cpio(1) so that the archive is assembled from an
in-memory file list: nothing is ever staged on the host file system, which rules out writing
through an absolute symlink of the guest tree into the host (a mistake the manual recipe nearly
made), and every byte of the output depends only on the inputs.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    """One member of the archive. `data` is the file content or, for symlinks, the target."""

    path: str
    mode: int
    data: bytes = b""
    rdev_major: int = 0
    rdev_minor: int = 0

    @staticmethod
    def directory(path: str, perm: int = 0o755) -> Entry:
        return Entry(path, stat.S_IFDIR | perm)

    @staticmethod
    def file(path: str, data: bytes, perm: int = 0o644) -> Entry:
        return Entry(path, stat.S_IFREG | perm, data)

    @staticmethod
    def symlink(path: str, target: str) -> Entry:
        return Entry(path, stat.S_IFLNK | 0o777, target.encode())

    @staticmethod
    def char_device(path: str, major: int, minor: int, perm: int = 0o600) -> Entry:
        return Entry(path, stat.S_IFCHR | perm, b"", major, minor)


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _header(ino: int, entry: Entry, name: bytes, mtime: int) -> bytes:
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (
        ino, entry.mode, 0, 0, nlink, mtime, len(entry.data),
        0, 0, entry.rdev_major, entry.rdev_minor, len(name) + 1, 0,
    )
    return b"070701" + b"".join(b"%08X" % value for value in fields)


def write_newc(out: BinaryIO, entries: Iterable[Entry], mtime: int = 0) -> None:
    """Write `entries` (already in the order wanted) as a newc archive owned by root."""
    ino = 0
    for ino, entry in enumerate(entries, start=1):
        name = entry.path.strip("/").encode()
        record = _header(ino, entry, name, mtime) + name + b"\0"
        out.write(record + _pad(len(record)))
        out.write(entry.data + _pad(len(entry.data)))
    trailer = Entry(TRAILER, 0)
    record = _header(ino + 1, trailer, TRAILER.encode(), 0) + TRAILER.encode() + b"\0"
    out.write(record + _pad(len(record)))


def parents_first(paths: Iterable[str]) -> list[str]:
    """All directories that `paths` need, shallowest first, so the loader can create them."""
    dirs: set[str] = set()
    for path in paths:
        parts = path.strip("/").split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:depth]))
    return sorted(dirs, key=lambda d: (d.count("/"), d))
