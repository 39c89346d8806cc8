"""Text inputs whose own key bindings act in the order the keys came.

Textual resolves a focused widget's bindings only once the key has bubbled up to the app,
while the widget types printable keys at once. Keys that arrive together (a terminal's batch
over a slow SSH link, a script driving tmux) are then reordered: `xyz`, backspace, `w` gives
`xyz`, and `echo a`, enter, `echo b`, enter runs `echo aecho b`. These widgets look up their
own bindings when the key reaches them, in order with the keys before and after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.widgets import Input, TextArea

if TYPE_CHECKING:
    from textual.widget import Widget as _Base
else:
    _Base = object  # a Widget in the bases twice would upset Textual's per-class CSS merging


class OrderedKeys(_Base):
    """Mixin (before the Textual widget in the bases): the widget's own bindings first."""

    async def _on_key(self, event: events.Key) -> None:
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()  # (the Textual widget's own handler is skipped)
                return


class TextInput(OrderedKeys, Input):
    """An `Input` whose keys act in order."""


class CodeArea(OrderedKeys, TextArea):
    """A `TextArea` whose keys act in order."""
