"""Command-palette entries (ctrl+p) for every action of the TUI."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (palette text, app action, help)
COMMANDS = [
    ("Run / continue the script", "run", "F5: start the script, or continue when paused"),
    ("Pause the script", "pause", "F6: stop at the next statement"),
    ("Step over", "step('over')", "F10: run the current statement"),
    ("Step into", "step('into')", "F11: into a helper function of the script"),
    ("Step out", "step('out')", "shift+F11: back to the caller"),
    ("Cancel the wait", "cancel_wait", "x: the wait raises in the script like a timeout"),
    ("Retry the failed statement", "resolve('retry')", "r"),
    ("Skip the failed statement", "resolve('skip')", "k"),
    ("Let the failure fail", "resolve('raise')", "F"),
    ("Restart the script from the top", "restart", "ctrl+r: machines keep running"),
    ("Jump: run from the cursor line", "jump_here",
     "j in the script: a paused run goes on from there, same globals"),
    ("Edit the script", "edit_script", "e in the script: ctrl+s saves, the run goes on with it"),
    ("Insert recorded REPL lines into the script", "insert_recorded", "F8"),
    ("Show the keys of the focused pane", "show_help_panel", "F1"),
    ("Open a machine's console", "pick_console", "F2: type part of its name"),
    ("Split the consoles: 1, 2 or 4 at once", "split_consoles", "F3: in turn"),
    ("Filter the machine list", "filter_machines", "/ in the machine list"),
    ("Quit (stops machines and switches)", "quit", "q"),
]


class NixtestCommands(Provider):
    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, action, help_text in COMMANDS:
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text),
                          partial(self.app.run_action, action), help=help_text)

    async def discover(self) -> Hits:
        for text, action, help_text in COMMANDS:
            yield DiscoveryHit(text, partial(self.app.run_action, action), help=help_text)
