"""Screen figures: screenshot latency, wait_for_text against upstream's OCR pipeline, agreement.

Upstream's pipeline is re-implemented faithfully for the comparison: an HMP `screendump` to
PPM, then raw tesseract plus two ImageMagick `convert` chains each followed by tesseract, in a
thread pool of max(1, cores // 4) workers, all awaited before the text is looked at. Its
tesseract runs use `--oem 1`, because upstream's `--oem 2` fails outright with Debian's language
data (ours falls back the same way), and keep tesseract's default threading, as upstream does.

Agreement: ten screens (three console fonts chosen with `fbcon=font:` on the kernel command
line, colours set with escape sequences on tty0), each grabbed once and read by both pipelines.
Prints figures and asserts nothing. Needs ImageMagick for the upstream side (./dev installs it).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from PIL import Image, ImageChops

from nixtest_tui.driver import Driver, QemuMachine
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger
from nixtest_tui.driver.ocr import VARIANTS, cores, tesseract_binary
from nixtest_tui.driver.ocr_variants import variants
from nixtest_tui.guests.accel import choose_accelerator
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.guests.tiny import ensure_tiny

MAGICK_CHAIN = ["-filter", "Catrom", "-density", "72", "-resample", "300", "-contrast",
                "-normalize", "-despeckle", "-type", "grayscale", "-sharpen", "1",
                "-posterize", "3"]
MAGICK_TAIL = ["-gamma", "100", "-blur", "1x65535"]
SCREENS = {  # font -> (SGR colours or "" for the default grey on black)
    "VGA8x16": ["", "31;40", "34;47", "1;33;44"],
    "VGA8x8": ["", "32;45", "30;46"],
    "TER16x32": ["", "1;37;41", "34;47"],
}
WORDS = ["lavender", "quartz", "harbour", "cobalt", "meadow", "falcon", "juniper", "pebble",
         "saffron", "tundra"]


def magick() -> str | None:
    # Debian's ImageMagick 6 has no `magick`; prefer the real binary over wrappers on PATH.
    for name in ("magick", "convert-im6.q16", "convert"):
        if found := shutil.which(name):
            return found
    return None


@contextmanager
def booted(font: str, root: Path) -> Iterator[QemuMachine]:
    image = ensure_tiny()
    topology = Topology((MachineSpec("screen"),))
    config = write_network(topology, image, choose_accelerator(image.kernel), root, "")
    logger = CompositeLogger([TerminalLogger(io.StringIO(), colour=False)])
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    os.environ["QEMU_KERNEL_PARAMS"] = f"fbcon=font:{font}"
    try:
        with Driver(load_driver_configuration(config), root, logger, tmp_dir=tmp) as driver:
            machine = driver.machines[0]
            assert isinstance(machine, QemuMachine)
            machine.start()
            machine.wait_for_text("Welcome", timeout=timedelta(minutes=2))
            yield machine
    finally:
        os.environ.pop("QEMU_KERNEL_PARAMS", None)


def show(machine: QemuMachine, colours: str, word: str) -> None:
    """A cleared tty with a few lines of text, the target line among them."""
    on = f"\\033[{colours}m" if colours else ""
    lines = ["[  OK  ] Started Network Time Synchronization.",
             "The quick brown fox jumps over 42 lazy dogs",
             f"Target: {word} ready",
             "[  OK  ] Reached target Multi-User System."]
    body = "\\n".join(lines)
    machine.succeed(f"printf '\\033[2J\\033[H{on}{body}\\033[0m\\n' > /dev/tty0")
    time.sleep(0.3)


# -- upstream's pipeline -----------------------------------------------------------------------


def upstream_tesseract(picture: Path) -> str:
    run = subprocess.run([tesseract_binary(), str(picture), "-", "--oem", "1", "-c",
                          "debug_file=/dev/null", "--psm", "11"], capture_output=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"OCR failed with exit code {run.returncode}")
    return run.stdout.decode(errors="replace")


def upstream_preprocess(ppm: Path, negate: bool) -> Path:
    out = ppm.with_name(f"{ppm.stem}.{'negative' if negate else 'positive'}.png")
    tool = magick()
    assert tool is not None
    prefix = [tool, "convert"] if tool.endswith("magick") else [tool]
    subprocess.run([*prefix, *MAGICK_CHAIN, *(["-negate"] if negate else []), *MAGICK_TAIL,
                    str(ppm), str(out)], check=True)
    return out


def upstream_variants(ppm: Path) -> tuple[list[str], list[Path]]:
    with ThreadPoolExecutor(max(1, cores() // 4)) as pool:
        raw = pool.submit(upstream_tesseract, ppm)
        positive = pool.submit(upstream_preprocess, ppm, False)
        negative = pool.submit(upstream_preprocess, ppm, True)
        pictures = [positive.result(), negative.result()]
        texts = [raw.result(), *pool.map(upstream_tesseract, pictures)]
    return texts, pictures


def upstream_wait_for_text(machine: QemuMachine, regex: str, scratch: Path) -> bool:
    """One attempt of upstream's wait_for_text: screendump, all three variants, then match."""
    ppm = scratch / "upstream.ppm"
    machine.send_monitor_command(f"screendump {ppm}")
    texts, _ = upstream_variants(ppm)
    return any(re.search(regex, text) for text in texts)


# -- figures -----------------------------------------------------------------------------------


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_latency(machine: QemuMachine, count: int, scratch: Path) -> None:
    to_file, in_memory, via_ppm = [], [], []
    for index in range(count):
        started = time.perf_counter()
        machine.screenshot(str(scratch / f"shot{index % 3}"))
        to_file.append(time.perf_counter() - started)
        started = time.perf_counter()
        machine.screens.grab(publish=False)
        in_memory.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert machine.qmp_client is not None
        machine.qmp_client.send("screendump", {"filename": str(scratch / "fallback.ppm")})
        with Image.open(scratch / "fallback.ppm") as picture:
            picture.save(scratch / "fallback.png")
        via_ppm.append(time.perf_counter() - started)
    print(f"screenshot latency, median of {count}: screenshot() PNG straight from QEMU "
          f"{median_ms(to_file):.1f} ms; in-memory grab (PPM, hash, decode) "
          f"{median_ms(in_memory):.1f} ms; PPM + Pillow PNG (QEMU < 7.1 fallback) "
          f"{median_ms(via_ppm):.1f} ms")


def bench_wait(machine: QemuMachine, runs: int, scratch: Path) -> None:
    show(machine, "", "quartz")
    regex = r"quartz\s+ready"
    ours_cold, ours_warm, theirs = [], [], []
    for _ in range(runs):  # interleaved, same screen
        machine.screens.forget()
        started = time.perf_counter()
        machine.wait_for_text(regex, timeout=timedelta(minutes=5))
        ours_cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        machine.wait_for_text(regex, timeout=timedelta(minutes=5))
        ours_warm.append(time.perf_counter() - started)
        started = time.perf_counter()
        found = upstream_wait_for_text(machine, regex, scratch)
        theirs.append(time.perf_counter() - started)
        assert found, "upstream's pipeline did not find the text"
    cold, warm, up = (statistics.median(s) for s in (ours_cold, ours_warm, theirs))
    print(f"wait_for_text on a static screen, median of {runs}: ours {cold:.2f} s "
          f"(second call on the same screen: {warm * 1000:.0f} ms), "
          f"upstream's pipeline {up:.2f} s, ratio {cold / up:.3f}")


def pixel_agreement(ours: Image.Image, theirs: Path) -> float:
    """Share of pixels whose every channel is within 2 levels of ImageMagick's."""
    with Image.open(theirs) as picture:
        difference = ImageChops.difference(ours, picture.convert(ours.mode))
    worst = difference.getchannel(0)
    for band in difference.split()[1:]:
        worst = ImageChops.lighter(worst, band)
    histogram = worst.histogram()
    return sum(histogram[:3]) / sum(histogram)


def bench_agreement(root: Path) -> None:
    found = {"ours": 0, "upstream": 0}
    per_variant = {v: [0, 0] for v in VARIANTS}  # variant -> [ours found, upstream found]
    same_text = {"positive": 0, "negative": 0}
    agreement: dict[str, list[float]] = {"positive": [], "negative": []}
    prep_ours, prep_theirs = [], []
    screens = 0
    for font, colour_sets in SCREENS.items():
        with booted(font, root / font) as machine:
            for colours in colour_sets:
                word = WORDS[screens]
                screens += 1
                show(machine, colours, word)
                regex = rf"{word}\s+ready"
                shot = machine.screens.grab()
                machine.screens.forget()
                ours = machine.screens.read(VARIANTS, shot)
                started = time.perf_counter()
                texts, pictures = upstream_variants(shot.file)
                prep_theirs.append(time.perf_counter() - started)
                started = time.perf_counter()
                positive, negative = variants(shot.image)
                prep_ours.append(time.perf_counter() - started)
                hits_ours = [re.search(regex, r.text) is not None for r in ours]
                hits_theirs = [re.search(regex, t) is not None for t in texts]
                found["ours"] += any(hits_ours)
                found["upstream"] += any(hits_theirs)
                for variant, mine, theirs in zip(VARIANTS, hits_ours, hits_theirs, strict=True):
                    per_variant[variant][0] += mine
                    per_variant[variant][1] += theirs
                for index, (variant, picture) in enumerate(
                        (("positive", positive), ("negative", negative))):
                    agreement[variant].append(pixel_agreement(picture, pictures[index]))
                    same_text[variant] += ours[index + 1].text == texts[index + 1]
                mark = "".join("x" if hit else "." for hit in hits_ours + hits_theirs)
                print(f"  screen {screens:2} {font:8} colours {colours or 'default':8} "
                      f"hits ours/upstream (raw,pos,neg): {mark[:3]} / {mark[3:]}")
    print(f"agreement on {screens} screens: target found by ours {found['ours']}/{screens}, "
          f"by upstream's pipeline {found['upstream']}/{screens}; per variant (ours/upstream): "
          + ", ".join(f"{v} {a}/{b}" for v, (a, b) in per_variant.items()))
    for variant in ("positive", "negative"):
        print(f"  Pillow vs ImageMagick {variant}: pixels within 2 levels "
              f"min {min(agreement[variant]):.4%} mean {statistics.mean(agreement[variant]):.4%}; "
              f"identical OCR text on {same_text[variant]}/{screens} screens")
    print(f"  time for all three variants of one screen, median: upstream's pipeline "
          f"{statistics.median(prep_theirs):.2f} s; our two preprocessed pictures alone "
          f"{statistics.median(prep_ours):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shots", type=int, default=50)
    parser.add_argument("--waits", type=int, default=5)
    args, _ = parser.parse_known_args()
    if magick() is None:
        print("ImageMagick is missing (apt-get install imagemagick): only latency is measured")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with booted("VGA8x16", root / "main") as machine:
            bench_latency(machine, args.shots, root)
            if magick() is not None:
                bench_wait(machine, args.waits, root)
        if magick() is not None:
            bench_agreement(root)


if __name__ == "__main__":
    main()
