"""`NspawnMachine`: systemd-nspawn containers (spec §5.3, §10) - not supported yet.

The class exists so that configurations declaring containers load and scripts that name the
class for type hints run; starting a container says plainly that it is not available.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.errors import MachineError
from nixtest_tui.driver.events import EventBus
from nixtest_tui.driver.logger import AbstractLogger

UNSUPPORTED = ("systemd-nspawn containers are not supported by nixtest-tui yet; "
               "run this test with the upstream driver, or declare the machine as a VM")


class NspawnMachine(BaseMachine):
    def __init__(self, out_dir: Path, name: str, start_command: str, tmp_dir: Path,
                 logger: AbstractLogger, callbacks: list[Callable[[], None]] | None = None,
                 keep_machine_state: bool = False, bus: EventBus | None = None) -> None:
        super().__init__(out_dir, tmp_dir, logger, name, keep_machine_state, callbacks, bus)
        self.start_command = start_command

    def is_up(self) -> bool:
        return False

    def start(self) -> None:
        raise MachineError(f"{self.name}: {UNSUPPORTED}")

    def shutdown(self) -> None:
        pass

    def wait_for_shutdown(self) -> None:
        pass

    def release(self) -> None:
        pass

    def _execute(self, command: str, check_return: bool, check_output: bool,
                 timeout: timedelta | None) -> tuple[int, str]:
        raise MachineError(f"{self.name}: {UNSUPPORTED}")
