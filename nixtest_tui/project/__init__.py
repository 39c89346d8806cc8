"""A user's own test network without Nix: `network.toml` + a test script → start scripts."""

from nixtest_tui.project.build import (
    BUILD_DIR,
    CONFIG_NAME,
    OUT_DIR,
    build_project,
    is_project,
    project_directory,
)
from nixtest_tui.project.netdesc import (
    DESCRIPTION_NAME,
    NetworkDescription,
    NetworkDescriptionError,
    load_description,
    parse_description,
)
from nixtest_tui.project.scaffold import SCRIPT_NAME, write_starter

__all__ = [
    "BUILD_DIR", "CONFIG_NAME", "DESCRIPTION_NAME", "OUT_DIR", "SCRIPT_NAME",
    "NetworkDescription", "NetworkDescriptionError", "build_project", "is_project",
    "load_description", "parse_description", "project_directory", "write_starter",
]
