"""vmlinux extraction: a payload found behind a header, and a clear error when there is none."""

from __future__ import annotations

import lzma

import pytest

from nixtest_tui.guests.kernel import KernelExtractError, extract_vmlinux


def test_finds_the_xz_elf_payload_after_a_setup_header() -> None:
    elf = b"\x7fELF" + bytes(range(256)) * 64
    decoy = lzma.compress(b"not a kernel", format=lzma.FORMAT_XZ)
    bzimage = b"MZ" + b"\0" * 1000 + decoy + lzma.compress(elf, format=lzma.FORMAT_XZ) + b"\0" * 64
    assert extract_vmlinux(bzimage) == elf


def test_rejects_an_image_without_xz_payload() -> None:
    with pytest.raises(KernelExtractError, match="xz"):
        extract_vmlinux(b"MZ" + b"\0" * 4096)
