"""The systemd part of a machine's API: units, their properties and states, user managers.

Upstream's names, messages and log lines (spec §5.1). A mixin, so that `base.py` stays the
place of commands and waits; it needs only `execute`, `nested` and the poll helpers.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any

from nixtest_tui.driver.duration import Duration
from nixtest_tui.driver.errors import RequestedAssertionFailed

FIFTEEN_MINUTES = timedelta(minutes=15)
_UNIT_LINE = re.compile(r"^([^=]+)=(.*)$")
ACTIVE_STATES = ("inactive", "activating", "active", "reloading", "deactivating", "failed")


class SystemdUnits:
    @abstractmethod
    def execute(self, command: str, check_return: bool = True, check_output: bool = True,
                timeout: Duration | None = FIFTEEN_MINUTES) -> tuple[int, str]: ...

    @abstractmethod
    def nested(self, msg: str, attrs: dict[str, str] | None = None) -> Any: ...

    @abstractmethod
    def _timeout(self, timeout: Duration | None, timeout_seconds: Duration | None,
                 what: str) -> timedelta: ...

    @abstractmethod
    def _poll(self, what: str, target: str, limit: timedelta,
              check: Callable[[bool], Any]) -> None: ...

    def systemctl(self, q: str, user: str | None = None) -> tuple[int, str]:
        if user is not None:
            q = q.replace("'", "\\'")
            return self.execute(
                f"su -l {user} --shell /bin/sh -c "
                f"$'XDG_RUNTIME_DIR=/run/user/`id -u` systemctl --user {q}'"
            )
        return self.execute(f"systemctl {q}")

    def get_unit_info(self, unit: str, user: str | None = None) -> dict[str, str]:
        status, lines = self.systemctl(f'--no-pager show "{unit}"', user)
        if status != 0:
            under = f' under user "{user}"' if user is not None else ""
            raise RequestedAssertionFailed(
                f'retrieving systemctl info for unit "{unit}"{under} failed with exit code {status}'
            )
        info = {}
        for line in lines.split("\n"):
            match = _UNIT_LINE.match(line)
            if match:
                info[match[1]] = match[2]
        return info

    def get_unit_property(self, unit: str, property: str, user: str | None = None) -> str:  # noqa: A002
        status, output = self.systemctl(f'--no-pager show "{unit}" --property="{property}"', user)
        if status != 0:
            under = f' under user "{user}"' if user is not None else ""
            raise RequestedAssertionFailed(
                f'retrieving systemctl property "{property}" for unit "{unit}"{under} '
                f"failed with exit code {status}"
            )
        invalid = (
            f'systemctl show --property "{property}" "{unit}" produced invalid output: {output}'
        )
        match = _UNIT_LINE.match(output)
        assert match is not None, invalid
        assert match[1] == property, invalid
        return match[2]

    def require_unit_state(self, unit: str, require_state: str = "active") -> None:
        with self.nested(f"checking if unit '{unit}' has reached state '{require_state}'"):
            state = self.get_unit_info(unit)["ActiveState"]
            if state != require_state:
                raise RequestedAssertionFailed(
                    f"Expected unit '{unit}' to to be in state '{require_state}' "
                    f"but it is in state '{state}'"
                )

    def wait_for_unit(self, unit: str, user: str | None = None,
                      timeout: Duration = FIFTEEN_MINUTES, *,
                      timeout_seconds: Duration | None = None) -> None:
        limit = self._timeout(timeout if timeout_seconds is None else None, timeout_seconds,
                              "wait_for_unit()")

        def check_active(_last_try: bool) -> bool:
            state = self.get_unit_property(unit, "ActiveState", user)
            if state == "failed":
                raise RequestedAssertionFailed(f'unit "{unit}" reached state "{state}"')
            if state == "inactive":
                _, jobs = self.systemctl("list-jobs --full 2>&1", user)
                if "No jobs" in jobs and self.get_unit_info(unit, user)["ActiveState"] == state:
                    raise RequestedAssertionFailed(
                        f'unit "{unit}" is inactive and there are no pending jobs'
                    )
            return state == "active"

        suffix = f" with user {user}" if user is not None else ""
        with self.nested(f"waiting for unit {unit}{suffix}"):
            self._poll("unit", unit, limit, check_active)

    def wait_for_unit_active_state(self, unit: str, state: str | Collection[str],
                                   user: str | None = None,
                                   timeout: Duration = FIFTEEN_MINUTES, *,
                                   timeout_seconds: Duration | None = None) -> None:
        """Wait until the unit's ActiveState is `state` (or one of several states).

        Unlike `wait_for_unit`, a failed or inactive unit is no reason to give up: it can be
        the state the script waits for, or pass on the way to it.
        """
        wanted = _active_states(state)
        limit = self._timeout(timeout if timeout_seconds is None else None, timeout_seconds,
                              "wait_for_unit_active_state()")
        last = ""

        def reached(_last_try: bool) -> bool:
            nonlocal last
            last = self.get_unit_property(unit, "ActiveState", user)
            return last in wanted

        suffix = f" with user {user}" if user is not None else ""
        shown = " or ".join(wanted)
        with self.nested(f"waiting for unit {unit}{suffix} to be {shown}"):
            try:
                self._poll("unit", f"{unit} {shown}", limit, reached)
            except RequestedAssertionFailed as timed_out:
                raise RequestedAssertionFailed(
                    f'unit "{unit}" did not reach state "{shown}"; it is "{last}" ({timed_out})'
                ) from None

    def start_job(self, jobname: str, user: str | None = None) -> tuple[int, str]:
        return self.systemctl(f"start {jobname}", user)

    def stop_job(self, jobname: str, user: str | None = None) -> tuple[int, str]:
        return self.systemctl(f"stop {jobname}", user)


def _active_states(state: str | Collection[str]) -> tuple[str, ...]:
    """The states to wait for, checked against the ones systemd has, so a typo fails at once
    instead of waiting out the timeout."""
    wanted = (state,) if isinstance(state, str) else tuple(state)
    unknown = [s for s in wanted if s not in ACTIVE_STATES]
    if not wanted or unknown:
        raise ValueError(
            f"wait_for_unit_active_state(): {', '.join(map(repr, unknown)) or 'no state'} is "
            f"not an ActiveState; use one or more of {', '.join(ACTIVE_STATES)}"
        )
    return wanted
