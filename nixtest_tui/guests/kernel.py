"""Pull the ELF `vmlinux` out of a Debian bzImage so that QEMU can boot it through PVH.

Debian's generic kernel is xz-compressed, and decompressing it in real mode costs ~2.6 s under
TCG on every boot (guests.md §2.1). QEMU boots an uncompressed ELF with a PVH note directly, so
we decompress once at build time instead.
"""

from __future__ import annotations

import lzma
from pathlib import Path

XZ_MAGIC = b"\xfd7zXZ\x00"
ELF_MAGIC = b"\x7fELF"


class KernelExtractError(RuntimeError):
    """The bzImage holds no xz stream that decompresses to an ELF image."""


def extract_vmlinux(bzimage: bytes) -> bytes:
    """Return the ELF image inside `bzimage` (xz payload; the first stream that is an ELF)."""
    start = bzimage.find(XZ_MAGIC)
    while start != -1:
        decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        try:
            image = decompressor.decompress(bzimage[start:])
        except lzma.LZMAError:
            image = b""
        if image.startswith(ELF_MAGIC):
            return image
        start = bzimage.find(XZ_MAGIC, start + 1)
    raise KernelExtractError(
        "no xz-compressed ELF kernel found in the bzImage; only xz kernels (Debian's generic "
        "amd64 flavour) are supported"
    )


def write_vmlinux(bzimage_path: Path, target: Path) -> int:
    """Extract into `target`; returns its size in bytes."""
    image = extract_vmlinux(bzimage_path.read_bytes())
    target.write_bytes(image)
    return len(image)
