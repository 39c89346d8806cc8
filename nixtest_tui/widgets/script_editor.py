"""The script editor: the whole test script in a Python TextArea over the app (`e`).

Saving does not close the editor by itself: the app writes and applies the text off the UI
loop and closes the editor only once that worked. A text that does not parse is refused with
its line and stays here, exactly as typed, so nothing the user wrote is lost.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from nixtest_tui.widgets.ordered_keys import CodeArea


class ScriptEditor(ModalScreen[None]):
    """| Key | Action |
    | --- | --- |
    | `ctrl+s` | save to the script file and apply: the paused run goes on with the new text |
    | `escape` | close without saving |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save and apply", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),  # (TextArea keeps escape)
    ]
    DEFAULT_CSS = """
    ScriptEditor { align: center middle; }
    ScriptEditor > Vertical {
        width: 90%; height: 90%; border: round $accent; background: $surface;
    }
    ScriptEditor TextArea, ScriptEditor TextArea:focus { height: 1fr; border: none; }
    ScriptEditor #editor-help { height: 1; padding: 0 1; color: $text-muted; }
    """

    class Save(Message):
        """Write `text` to the script file and use it from now on."""

        def __init__(self, editor: ScriptEditor, text: str) -> None:
            super().__init__()
            self.editor = editor
            self.text = text

    def __init__(self, text: str, title: str, line: int = 1) -> None:
        super().__init__()
        self.source, self.file_name, self.line = text, title, line

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = f"edit {self.file_name}"
            yield CodeArea.code_editor(self.source, language="python", id="script-editor")
            yield Static("ctrl+s saves and applies (a paused run goes on with the new text)"
                         " · escape closes without saving", id="editor-help")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor((max(0, self.line - 1), 0), center=True)

    def action_save(self) -> None:
        self.post_message(self.Save(self, self.query_one(TextArea).text))

    def action_cancel(self) -> None:
        self.dismiss(None)
