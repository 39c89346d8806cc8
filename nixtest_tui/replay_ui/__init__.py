"""The replay viewer (`nixtest-tui replay`): the TUI's layout over a recorded run.

A package of its own rather than part of `nixtest_tui.widgets`: it sits above both the widgets
it reuses and the UI-free reader (`nixtest_tui.replay`, which itself uses the widgets' terminal
model), so neither of those depends on the other through it.
"""
