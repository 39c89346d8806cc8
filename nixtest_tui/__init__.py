"""nixtest-tui: a terminal-UI debugger and drop-in driver for NixOS-style integration tests."""

__version__ = "0.1.0"
