"""The one error type of the guest builder: it always says what to do next."""

from __future__ import annotations


class GuestBuildError(RuntimeError):
    """Building or locating a guest image failed. The message names the fix."""
