"""Characters to QEMU `sendkey` names, as upstream maps them (spec §6.9).

Upper-case letters are shift chords; punctuation uses the PC scancode in hex; anything else
(lower-case letters, digits, names like `ctrl-alt-delete`) is passed to QEMU unchanged.
"""

from __future__ import annotations

_PLAIN = {
    "\n": "ret", " ": "spc", "-": "0x0C", "=": "0x0D", "[": "0x1A", "]": "0x1B",
    ";": "0x27", "'": "0x28", "`": "0x29", "\\": "0x2B", ",": "0x33", ".": "0x34", "/": "0x35",
}
_SHIFTED = {
    "_": "0x0C", "+": "0x0D", "{": "0x1A", "}": "0x1B", ":": "0x27", '"': "0x28",
    "~": "0x29", "|": "0x2B", "<": "0x33", ">": "0x34", "?": "0x35",
    "!": "0x02", "@": "0x03", "#": "0x04", "$": "0x05", "%": "0x06",
    "^": "0x07", "&": "0x08", "*": "0x09", "(": "0x0A", ")": "0x0B",
}

CHAR_TO_KEY: dict[str, str] = {
    **{letter.upper(): f"shift-{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"},
    **_PLAIN,
    **{char: f"shift-{code}" for char, code in _SHIFTED.items()},
}


def key_name(key: str) -> str:
    return CHAR_TO_KEY.get(key, key)
