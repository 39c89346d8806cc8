"""Pick a machine's console by typing part of its name (fuzzy, like the command palette).

With sixteen machines a name is faster to type than a tab to find. Each line shows the
machine's state, so a console worth reading (booting, died) is picked without a detour to the
machine list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from nixtest_tui.widgets.ordered_keys import TextInput


def ranked(query: str, names: Sequence[str]) -> list[str]:
    """Names matching `query`, best first; all of them, in order, for an empty query."""
    if not query.strip():
        return list(names)
    matcher = Matcher(query)
    scored = [(matcher.match(name), index, name) for index, name in enumerate(names)]
    return [name for score, _, name in sorted(scored, key=lambda s: (-s[0], s[1])) if score > 0]


class ConsolePicker(ModalScreen[str | None]):
    """Dismissed with the chosen machine's name, or None (escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]
    DEFAULT_CSS = """
    ConsolePicker { align: center middle; }
    ConsolePicker > Vertical {
        width: 60; height: auto; max-height: 24; border: round $primary; background: $surface;
    }
    ConsolePicker OptionList { height: auto; max-height: 18; border: none; }
    ConsolePicker Input, ConsolePicker Input:focus { border: none; height: 1; padding: 0 1; }
    """

    def __init__(self, machines: Sequence[tuple[str, str]]) -> None:
        """`machines`: (name, state label) in list order."""
        super().__init__()
        self.states = dict(machines)

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = "open a console"
            yield TextInput(placeholder="machine name (fuzzy)", id="picker-query")
            yield OptionList(id="picker-options")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    @property
    def options(self) -> list[str]:
        """The machines offered now, in their order: what the user sees."""
        option_list = self.query_one(OptionList)
        return [str(option_list.get_option_at_index(i).id)
                for i in range(option_list.option_count)]

    def _fill(self, query: str) -> None:
        option_list = self.query_one(OptionList)
        option_list.clear_options()
        matcher = Matcher(query) if query.strip() else None
        for name in ranked(query, list(self.states)):
            label = matcher.highlight(name) if matcher else Content(name)
            option_list.add_option(
                Option(label.append_text(f"  {self.states[name]}", style="dim"), id=name))
        option_list.highlighted = 0 if option_list.option_count else None

    @on(Input.Changed, "#picker-query")
    def query_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_move(self, delta: int) -> None:
        option_list = self.query_one(OptionList)
        if option_list.option_count:
            current = option_list.highlighted or 0
            option_list.highlighted = (current + delta) % option_list.option_count

    @on(Input.Submitted, "#picker-query")
    def choose_highlighted(self) -> None:
        option_list = self.query_one(OptionList)
        if option_list.highlighted is None:
            self.notify("no machine matches", severity="warning")
            return
        self.dismiss(str(option_list.get_option_at_index(option_list.highlighted).id))

    @on(OptionList.OptionSelected, "#picker-options")
    def choose_clicked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(str(event.option.id))
