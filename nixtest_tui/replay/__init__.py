"""Post-mortem: read a headless run's trace and compute what every pane showed at time t.

UI-free (no Textual), so that the replay viewer, the HTML report and the benchmarks share it:
`reader` indexes the JSON lines (serial bytes are left on disk until a console needs them),
`model` folds the events into per-aspect timelines answered by bisection, and `console`
replays each machine's serial bytes through the TUI's own terminal model, with keyframes.
"""

from __future__ import annotations

from nixtest_tui.replay.errors import TraceError
from nixtest_tui.replay.reader import Trace, open_trace

__all__ = ["Trace", "TraceError", "open_trace"]
