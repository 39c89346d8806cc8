"""The newc writer, checked against GNU cpio reading the archive back."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from nixtest_tui.guests.cpio import Entry, parents_first, write_newc


def sample_entries() -> list[Entry]:
    return [
        Entry.directory("etc"),
        Entry.file("etc/hostname", b"alice\n"),
        Entry.file("bin/tool", b"#!/bin/sh\necho odd-length", 0o755),
        Entry.symlink("bin/sh", "bash"),
        Entry.char_device("dev/null", 1, 3, 0o666),
    ]


def archive(entries: list[Entry], mtime: int = 0) -> bytes:
    out = io.BytesIO()
    write_newc(out, entries, mtime)
    return out.getvalue()


def test_gnu_cpio_lists_every_member_with_its_type(tmp_path: Path) -> None:
    data = archive(sample_entries())
    listing = subprocess.run(
        ["cpio", "-itv", "--quiet"], input=data, capture_output=True, check=True
    ).stdout.decode()
    lines = {line.split()[-1] if "->" not in line else line.split()[-3]: line
             for line in listing.splitlines()}
    assert lines["etc"].startswith("d")
    assert lines["bin/tool"].startswith("-rwxr-xr-x")
    assert lines["bin/sh"].startswith("l") and "-> bash" in lines["bin/sh"]
    assert lines["dev/null"].startswith("c")


def test_extracted_content_is_byte_exact(tmp_path: Path) -> None:
    subprocess.run(
        ["cpio", "-idm", "--quiet", "--no-absolute-filenames"],
        input=archive([Entry.directory("bin"), *sample_entries()[1:4]]),
        cwd=tmp_path, check=True,
    )
    assert (tmp_path / "etc/hostname").read_bytes() == b"alice\n"
    assert (tmp_path / "bin/tool").read_bytes() == b"#!/bin/sh\necho odd-length"
    assert (tmp_path / "bin/sh").readlink() == Path("bash")


def test_same_input_gives_the_same_bytes() -> None:
    assert archive(sample_entries(), 0) == archive(sample_entries(), 0)
    assert archive(sample_entries(), 0) != archive(sample_entries(), 1)


def test_members_are_four_byte_aligned_and_end_with_a_trailer() -> None:
    data = archive(sample_entries())
    assert len(data) % 4 == 0
    assert b"TRAILER!!!" in data[-128:]


def test_parents_first_lists_each_directory_before_its_children() -> None:
    assert parents_first(["a/b/c/file", "a/x", "top"]) == ["a", "a/b", "a/b/c"]
