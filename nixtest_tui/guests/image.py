"""A built guest image as the rest of the program sees it: a kernel, an initrd, a manifest."""

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
        return self.directory / "vmlinux"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd"

    @property
    def memory_mb(self) -> int:
        return int(self.manifest.get("memory_mb", 256))

    @staticmethod
    def load(directory: Path) -> GuestImage:
        manifest = json.loads((directory / "manifest.json").read_text())
        return GuestImage(str(manifest["flavour"]), directory, manifest)

    def save_manifest(self) -> None:
        (self.directory / "manifest.json").write_text(json.dumps(self.manifest, indent=2) + "\n")
