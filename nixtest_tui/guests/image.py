"""A built guest image as the rest of the program sees it: a kernel, an initrd, a manifest.

Optional artefacts are named in the manifest, so an image of any flavour describes itself and
older tiny manifests (which name none) keep their meaning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class GuestImage:
    flavour: str
    directory: Path
    manifest: dict[str, Any]

    @property
    def kernel(self) -> Path:
        """The uncompressed PVH `vmlinux` (QEMU `-kernel`)."""
        return self.directory / "vmlinux"

    @property
    def initrd(self) -> Path:
        """QEMU `-initrd`: the whole guest (tiny), or the stage-1 `stage1.cpio.gz` (debian)."""
        return self.directory / str(self.manifest.get("initrd", "initrd"))

    @property
    def rootfs_image(self) -> Path | None:
        """The ext4 root disk to attach read-only (`snapshot=on`), or None (tiny)."""
        name = self.manifest.get("rootfs_image")
        return self.directory / str(name) if name else None

    @property
    def rootfs_tree(self) -> Path | None:
        """The configured root tree, unpacked (a container root for nspawn), or None (tiny)."""
        name = self.manifest.get("rootfs_tree")
        return self.directory / str(name) if name else None

    @property
    def kernel_params(self) -> str:
        """Parameters this image needs on top of the common ones (e.g. `root=/dev/vda rw`)."""
        return str(self.manifest.get("kernel_params", ""))

    @property
    def runs_systemd(self) -> bool:
        """True when PID 1 is real systemd (it then takes a per-machine `systemd.machine_id=`)."""
        return self.manifest.get("init") == "systemd"

    @property
    def memory_mb(self) -> int:
        return int(self.manifest.get("memory_mb", 256))

    @staticmethod
    def load(directory: Path) -> GuestImage:
        manifest = json.loads((directory / "manifest.json").read_text())
        return GuestImage(str(manifest["flavour"]), directory, manifest)

    def save_manifest(self) -> None:
        (self.directory / "manifest.json").write_text(json.dumps(self.manifest, indent=2) + "\n")
