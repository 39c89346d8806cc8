"""The variables pane: the paused frame's variables as a tree that opens on demand, values
that changed since the last pause highlighted (as pudb does).

Reading values runs the user's `__repr__`s, so every snapshot and every expansion is taken in
a thread worker; a generation number drops results that arrive after the script moved on.
Nodes the user opened stay open from one pause to the next (matched by name path).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.debugger.events import RunStarted
from nixtest_tui.debugger.frames import Path, Scope, Variable, VariableView
from nixtest_tui.driver.events import EvaluationFinished, Event, ScriptStateChanged

CHANGED = "bold #1d1f21 on #f0c674"


def variable_label(variable: Variable) -> Text:
    """`name: summary  type`, the name and value highlighted when the value changed."""
    label = Text()
    style = CHANGED if variable.changed else ""
    label.append(variable.name, style=f"bold {style}".strip())
    if variable.name == "…":
        label.append(f" {variable.summary}", style="dim italic")
        return label
    label.append(": ")
    label.append(variable.summary, style=style or "cyan")
    label.append(f"  {variable.type_name}", style="dim italic")
    return label


class VariablesPane(Vertical):
    """| Key | Action |
    | --- | --- |
    | `up`/`down` | move in the tree |
    | `enter`, `space` | open or close a dict, list or object |
    | `a` | show or hide the names the driver injects (and dunders) at module level |
    """

    DEFAULT_CSS = """
    VariablesPane { height: 2fr; border: round $panel; background: $surface; }
    VariablesPane:focus-within { border: round $accent; }
    VariablesPane > #variables-scope { height: 1; color: $text-muted; padding: 0 1; }
    VariablesPane > Tree { height: 1fr; background: $surface; overflow-x: hidden; }
    VariablesPane.-stale > Tree { text-opacity: 45%; }
    """
    BINDINGS = [Binding("a", "toggle_all", "Driver names")]

    def __init__(self, runner: Callable[[], ScriptRunner | None], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.runner = runner
        self.border_title = "variables"
        self.border_subtitle = "a: driver names"
        self.show_all = False
        self.frame_index: int | None = None  # None: the runner's selected frame
        self.view = VariableView()
        self.expanded: set[Path] = set()
        self._generation = 0
        self._view_lock = threading.Lock()  # (workers of one pause may overlap)
        self._wanted_cursor: Path | None = None

    def compose(self) -> ComposeResult:
        yield Static("not paused", id="variables-scope")
        tree: Tree[Variable] = Tree("variables", id="variables-tree")
        tree.show_root = False
        tree.guide_depth = 2
        yield tree

    @property
    def variables_tree(self) -> Tree[Variable]:
        return self.query_one("#variables-tree", Tree)

    # -- the runner's events ------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """Every bus event, on the UI loop (app._deliver); pauses arrive as ScriptStateChanged."""
        if isinstance(event, RunStarted):
            with self._view_lock:
                self.view.forget()
        elif isinstance(event, ScriptStateChanged):
            self._state_changed(event.state)
        elif isinstance(event, EvaluationFinished) and not self.has_class("-stale"):
            self.refresh_variables()  # an assignment in the REPL shows at once

    def _state_changed(self, state: str) -> None:
        self._generation += 1
        if state == "paused":
            with self._view_lock:
                self.view.next_pause()
            self.frame_index = None
            self.remove_class("-stale")
            self.refresh_variables()
        elif state == "running":
            self.add_class("-stale")
        else:
            self.add_class("-stale")
            self.variables_tree.clear()
            self.query_one("#variables-scope", Static).update(f"not paused ({state})")

    def show_frame(self, index: int) -> None:
        """The stack pane selected frame `index`: its variables, not the innermost's."""
        self.frame_index = index
        self.refresh_variables()

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.border_subtitle = "a: hide driver names" if self.show_all else "a: driver names"
        self.refresh_variables()

    # -- snapshots (thread workers) ---------------------------------------------------------------

    def refresh_variables(self) -> None:
        self._generation += 1
        self._fetch(self._generation, self.frame_index, self.show_all)

    @work(thread=True, group="variables", exclusive=True, exit_on_error=False,
          description="reading the variables")
    def _fetch(self, generation: int, index: int | None, show_all: bool) -> None:
        runner = self.runner()
        scope = runner.scope(index, show_all) if runner is not None else None
        if scope is None:
            return
        with self._view_lock:
            nodes = self.view.top(scope)
        self.app.call_from_thread(self._show_nodes, generation, scope, nodes)

    @work(thread=True, group="variables-open", exit_on_error=False,
          description="opening a variable")
    def _fetch_children(self, generation: int, node: TreeNode[Variable]) -> None:
        assert node.data is not None
        with self._view_lock:
            children = self.view.children(node.data)
        self.app.call_from_thread(self._put_nodes, generation, node, children)

    # -- the tree (UI loop) ---------------------------------------------------------------------

    def _show_nodes(self, generation: int, scope: Scope, nodes: list[Variable]) -> None:
        if generation != self._generation:
            return
        tree = self.variables_tree
        cursor = tree.cursor_node
        if cursor is not None and cursor.data is not None:
            self._wanted_cursor = cursor.data.path
        where = "module globals" if scope.is_module else f"{scope.function}() locals"
        shown = " + driver names" if self.show_all and scope.is_module else ""
        self.query_one("#variables-scope", Static).update(f"{where}{shown}, line {scope.line}")
        tree.clear()
        self._put_nodes(generation, tree.root, nodes)

    def _put_nodes(self, generation: int, parent: TreeNode[Variable],
                      nodes: list[Variable]) -> None:
        if generation != self._generation:
            return
        parent.remove_children()
        for variable in nodes:
            node = parent.add(variable_label(variable), data=variable,
                              allow_expand=variable.expandable)
            if variable.path == self._wanted_cursor:
                self.variables_tree.move_cursor(node)
            if variable.expandable and variable.path in self.expanded:
                node.expand()  # (loads its children again, for this pause's values)

    @on(Tree.NodeExpanded, "#variables-tree")
    def _node_opened(self, event: Tree.NodeExpanded[Variable]) -> None:
        variable = event.node.data
        if variable is None:
            return
        self.expanded.add(variable.path)
        if not event.node.children:
            self._fetch_children(self._generation, event.node)

    @on(Tree.NodeCollapsed, "#variables-tree")
    def _node_closed(self, event: Tree.NodeCollapsed[Variable]) -> None:
        if event.node.data is not None:
            self.expanded.discard(event.node.data.path)
