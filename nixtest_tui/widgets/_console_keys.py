"""Textual keys as the bytes a VT220-style terminal sends down the serial line in input mode."""

from __future__ import annotations

APP_KEYS = frozenset({"ctrl+q"})
"""Keys left to the app even in input mode, so the TUI can always be quit."""

KEY_SEQUENCES: dict[str, bytes] = {
    "enter": b"\r",
    "tab": b"\t",
    "shift+tab": b"\x1b[Z",
    "backspace": b"\x7f",
    "ctrl+right_square_bracket": b"\x1b",  # Escape leaves input mode; ctrl+] sends ESC instead
    "up": b"\x1b[A",
    "down": b"\x1b[B",
    "right": b"\x1b[C",
    "left": b"\x1b[D",
    "home": b"\x1b[H",
    "end": b"\x1b[F",
    "insert": b"\x1b[2~",
    "delete": b"\x1b[3~",
    "pageup": b"\x1b[5~",
    "pagedown": b"\x1b[6~",
    "f1": b"\x1bOP",
    "f2": b"\x1bOQ",
    "f3": b"\x1bOR",
    "f4": b"\x1bOS",
    "f5": b"\x1b[15~",
    "f6": b"\x1b[17~",
    "f7": b"\x1b[18~",
    "f8": b"\x1b[19~",
    "f9": b"\x1b[20~",
    "f10": b"\x1b[21~",
    "f11": b"\x1b[23~",
    "f12": b"\x1b[24~",
    "ctrl+space": b"\x00",
    "ctrl+at": b"\x00",
}


def key_to_bytes(key: str, character: str | None) -> bytes | None:
    """What a VT220-ish terminal sends for a Textual key, or None if it sends nothing."""
    if key in KEY_SEQUENCES:
        return KEY_SEQUENCES[key]
    if key.startswith("ctrl+") and len(key) == 6 and key[5].isalpha():
        return bytes([ord(key[5].lower()) & 0x1F])
    if character is not None and len(character) == 1:
        if character.isprintable() or character < " ":
            return character.encode()
    return None
