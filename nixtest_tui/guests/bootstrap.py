"""The debian flavour's base tree: debootstrap, trimmed, cached as a tar.zst.

debootstrap is the slow part of the debian build (40-50 s, guests.md §4 step 1) and its result
depends only on the package set and on what the mirror serves that week. So the trimmed tree is
cached on its own, keyed by this recipe and an ISO-week bucket; a changed unit file or kernel
then rebuilds the image from the tarball in seconds.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from nixtest_tui.guests import cache
from nixtest_tui.guests.errors import GuestBuildError

Progress = Callable[[str], None]

SUITE = "bookworm"
INCLUDE = [
    "systemd", "systemd-sysv", "udev", "bash", "coreutils", "netcat-openbsd", "iproute2",
    "procps", "kmod", "iputils-ping", "dbus", "libpam-systemd",
]
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Deleted after bootstrapping: 278 MB → 140 MB (guests.md §4). Relative to the tree.
TRIM = [
    "var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info",
    "usr/share/locale", "usr/share/lintian", "var/cache/debconf/templates.dat-old",
    "var/log/bootstrap.log", "var/log/dpkg.log", "var/log/alternatives.log",
]
KEEP_TARBALLS = 2
# debootstrap's per-package lines; shown as a counter rather than one line per package
_PACKAGE_LINE = re.compile(r"^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) ")
_REPORT_EVERY = 5.0


def apt_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian archive apt already uses for the main suite (deb822 or one-line format).

    Here that is deb.debian.org: the only mirror these machines may reach.
    """
    candidates: list[tuple[str, list[str]]] = []
    for path in sorted((sources_dir / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", _read(path)):
            fields = dict(_deb822_fields(stanza))
            if "deb" in fields.get("Types", "").split() and fields.get("Enabled", "yes") != "no":
                for uri in fields.get("URIs", "").split():
                    candidates.append((uri, fields.get("Suites", "").split()))
    for path in [sources_dir / "sources.list", *sorted(sources_dir.glob("sources.list.d/*.list"))]:
        for line in _read(path).splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb":
                candidates.append((words[1], [words[2]]))
    for uri, suites in candidates:
        if SUITE in suites:
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _deb822_fields(stanza: str) -> list[tuple[str, str]]:
    fields = []
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        key, _, value = line.partition(":")
        fields.append((key.strip(), value.strip()))
    return fields


def week_bucket(today: datetime.date | None = None) -> str:
    """`2026-W48`: debootstrap takes whatever the mirror has, so cached trees age out weekly."""
    year, week, _ = (today or datetime.date.today()).isocalendar()
    return f"{year}-W{week:02d}"


def tree_key(mirror: str, week: str) -> str:
    """Cache key of the trimmed tree: this module's code, the package set, mirror and week."""
    return cache.recipe_hash([Path(__file__)], [], [SUITE, mirror, week, *INCLUDE])


def ensure_tree(target: Path, tarballs: Path, progress: Progress) -> tuple[str, float]:
    """Fill `target` (must not exist) with this week's trimmed tree; (tree key, seconds spent).

    Unpacks the cached tarball when there is one, otherwise runs debootstrap and caches it.
    """
    mirror = apt_mirror()
    key = tree_key(mirror, week_bucket())[:16]
    tarball = tarballs / f"{SUITE}-{key}.tar.zst"
    started = time.monotonic()
    if tarball.exists():
        progress(f"unpacking the cached {SUITE} tree {tarball.name}")
        target.mkdir(parents=True)
        _run_pipeline(["zstd", "-dc", "-q", str(tarball)],
                      ["tar", "-x", "--numeric-owner", "--xattrs", "--xattrs-include=*",
                       "-C", str(target)], f"unpacking {tarball}")
        return key, time.monotonic() - started
    debootstrap(target, mirror, progress)
    trim(target)
    tarballs.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_name(tarball.name + ".partial")
    _run_pipeline(["tar", "-c", "--numeric-owner", "--xattrs", "--xattrs-include=*",
                   "-C", str(target), "."],
                  ["zstd", "-q", "-T0", "-3", "-f", "-o", str(partial)], f"writing {tarball}")
    partial.rename(tarball)
    _prune(tarballs, keep=KEEP_TARBALLS)
    return key, time.monotonic() - started


def debootstrap(target: Path, mirror: str, progress: Progress) -> None:
    """Run debootstrap, relaying its phases with a package counter every few seconds."""
    tool = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if tool is None:
        raise GuestBuildError("debootstrap is missing; run ./dev setup or apt-get install "
                              "debootstrap")
    command = [tool, "--variant=minbase", f"--include={','.join(INCLUDE)}", SUITE,
               str(target), mirror]
    progress(f"debootstrap {SUITE} from {mirror} (takes 40-50 s)")
    started = last_report = time.monotonic()
    counts: dict[str, int] = {}
    tail: list[str] = []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip()
            tail = [*tail[-19:], line]
            match = _PACKAGE_LINE.match(line)
            if match is None:
                if line.startswith(("I: ", "E: ", "W: ")):
                    progress(f"debootstrap: {line[3:]} ({time.monotonic() - started:.0f} s)")
                continue
            phase = match[1].lower()
            first = phase not in counts
            counts[phase] = counts.get(phase, 0) + 1
            if first or time.monotonic() - last_report >= _REPORT_EVERY:
                last_report = time.monotonic()
                progress(f"debootstrap: {phase} packages ({counts[phase]} so far, "
                         f"{last_report - started:.0f} s)")
        status = process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if status != 0:
        raise GuestBuildError(f"debootstrap failed (exit {status}); its last lines:\n"
                              + "\n".join(tail))
    progress(f"debootstrap finished in {time.monotonic() - started:.1f} s")


def trim(root: Path) -> None:
    """Delete caches, documentation and locales; keep the directories apt and dpkg expect."""
    for relative in TRIM:
        path = root / relative
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
            if relative in ("var/cache/apt", "var/lib/apt/lists"):
                (path / "partial").mkdir(parents=True)


def _prune(tarballs: Path, keep: int) -> None:
    found = sorted(tarballs.glob(f"{SUITE}-*.tar.zst"), key=lambda p: p.stat().st_mtime)
    for old in found[:-keep]:
        old.unlink(missing_ok=True)


def _run_pipeline(first: list[str], second: list[str], what: str) -> None:
    """`first | second`, both checked: a truncated archive must not pass for a good one."""
    producer = subprocess.Popen(first, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert producer.stdout is not None
    try:
        consumer = subprocess.run(second, stdin=producer.stdout, capture_output=True, check=False)
    finally:
        producer.stdout.close()
        producer_status = producer.wait()
    if producer_status != 0 or consumer.returncode != 0:
        detail = producer.stderr.read() if producer.stderr else b""
        raise GuestBuildError(f"{what} failed: {(detail + consumer.stderr).decode().strip()}")
