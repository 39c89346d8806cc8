"""Where built guest images live, and how a recipe's content becomes a cache key."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nixtest_tui.guests.image import GuestImage


def cache_root() -> Path:
    """`$NIXTEST_CACHE_DIR`, else `$XDG_CACHE_HOME/nixtest-tui`, else `~/.cache/nixtest-tui`."""
    explicit = os.environ.get("NIXTEST_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "nixtest-tui"


def hash_tree(digest: hashlib._Hash, root: Path) -> None:
    """Feed every path, mode and content (or link target) below `root` into `digest`."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            digest.update(f"L {relative} -> {os.readlink(path)}\n".encode())
        elif path.is_file():
            executable = "x" if os.access(path, os.X_OK) else "-"
            digest.update(f"F {relative} {executable}\n".encode())
            digest.update(path.read_bytes())


def recipe_hash(files: Iterable[Path], trees: Iterable[Path], extra: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    for tree in trees:
        hash_tree(digest, tree)
    for item in extra:
        digest.update(item.encode() + b"\0")
    return digest.hexdigest()


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialise builds into one cache directory across processes (pytest workers, two shells)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def newest_with_recipe(guests_dir: Path, flavour: str, recipe: str) -> GuestImage | None:
    """The newest `<flavour>-*` image built from `recipe`: the fallback when apt is offline."""
    found = []
    for manifest in guests_dir.glob(f"{flavour}-*/manifest.json"):
        image = GuestImage.load(manifest.parent)
        if image.manifest.get("recipe") == recipe:
            found.append((manifest.stat().st_mtime, image))
    return max(found, key=lambda pair: pair[0])[1] if found else None


def prune_old_images(guests_dir: Path, flavour: str, keep: int) -> None:
    """Delete all but the `keep` newest `<flavour>-*` images (each is tens of MB or more)."""
    images = sorted(guests_dir.glob(f"{flavour}-*/manifest.json"), key=lambda p: p.stat().st_mtime)
    for manifest in images[:-keep]:
        shutil.rmtree(manifest.parent, ignore_errors=True)
