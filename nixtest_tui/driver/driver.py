"""`Driver`: owns the VLANs and machines of one test and runs its script (spec §4).

Lifecycle as upstream: resources come up in `__enter__` (VLANs before machines, so that every
start script inherits `QEMU_VDE_SOCKET_<n>`) and go down in `__exit__` in the order timer,
machines, VLANs. The script runs with `exec(text, globals, None)`, so its frames are `<string>`.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.compat import install_test_driver_alias, remove_test_driver_alias
from nixtest_tui.driver.config import DriverConfiguration, machine_name_from
from nixtest_tui.driver.errors import MachineError, RequestedAssertionFailed
from nixtest_tui.driver.events import EventBus, ScriptLine
from nixtest_tui.driver.logger import AbstractLogger, CompositeLogger, EventLogger, TerminalLogger
from nixtest_tui.driver.nspawn import NspawnMachine
from nixtest_tui.driver.nspawn_host import (
    in_nix_sandbox,
    prepare_sandbox_host,
    require_container_host,
)
from nixtest_tui.driver.polling import (
    PollingCondition,
    check_polling_conditions,
    make_polling_condition,
)
from nixtest_tui.driver.qemu import QemuMachine
from nixtest_tui.driver.retry import script_retry
from nixtest_tui.driver.stateroot import StateRoot
from nixtest_tui.driver.symbols import (
    AssertionTestCase,
    DebugNop,
    MachineDeprecationWrapper,
    pythonize_name,
)
from nixtest_tui.driver.tracebacks import user_traceback
from nixtest_tui.driver.vlan import VLan

SCRIPT_FILENAME = "<string>"
GENERIC_SYMBOLS = (
    "start_all", "test_script", "machines", "machines_qemu", "machines_nspawn", "vlans",
    "driver", "log", "os", "create_machine", "subtest", "run_tests", "join_all", "retry",
    "serial_stdout_off", "serial_stdout_on", "polling_condition", "BaseMachine", "QemuMachine",
    "NspawnMachine", "t", "debug", "dump_machine_ssh",
)


def default_tmp_dir() -> Path:
    """`$XDG_RUNTIME_DIR`, else the platform's temporary directory; created 0700 if missing."""
    tmp_dir = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not tmp_dir.is_dir() or not os.access(tmp_dir, os.W_OK):
        raise MachineError(f"the temporary directory {tmp_dir} is not a writable directory: "
                           "set XDG_RUNTIME_DIR or TMPDIR to one that is")
    return tmp_dir


class Driver:
    def __init__(
        self,
        config: DriverConfiguration,
        out_dir: Path,
        logger: AbstractLogger | None = None,
        keep_machine_state: bool = False,
        debug: Any = None,
        interactive: bool = False,
        bus: EventBus | None = None,
        tmp_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.out_dir = Path(out_dir).resolve()
        self.bus = bus if bus is not None else EventBus()
        self.logger = logger if logger is not None else CompositeLogger(
            [TerminalLogger(), EventLogger(self.bus)]
        )
        self.keep_machine_state = keep_machine_state
        self.debug = debug if debug is not None else DebugNop()
        self.interactive = interactive
        self.tmp_dir = tmp_dir
        self.state_root: StateRoot | None = None
        self.trace_script_lines = False  # ScriptLine events for recorders such as --trace
        self.quiet_children = False  # children's stderr to /dev/null (a TUI owns the terminal)
        self.tests = Path(config.test_script).read_text() if config.test_script else ""
        self.vlans: list[VLan] = []
        self.machines_qemu: list[QemuMachine] = []
        self.machines_nspawn: list[NspawnMachine] = []
        self.polling_conditions: list[PollingCondition] = []
        self.created_machines: list[QemuMachine] = []  # create_machine()'s, released at exit
        self.vhost_vsock = None
        # a lambda, so that a consumer can replace terminate_test after construction
        self.race_timer = threading.Timer(config.global_timeout.total_seconds(),
                                          lambda: self.terminate_test())

    # -- lifetime ------------------------------------------------------------------------------

    def __enter__(self) -> Driver:
        self.state_root = StateRoot(self.tmp_dir or default_tmp_dir())
        tmp_dir = self.tmp_dir = self.state_root.claim()
        if self.state_root.per_run:
            self.logger.log(f"{self.state_root.base} is in use by {self.state_root.holder}; "
                            f"this run keeps its state in {tmp_dir}")
        install_test_driver_alias(Driver)  # __exit__ removes it, also when this fails
        try:
            containers = sorted(self.config.containers)
            if containers:
                self._prepare_container_host(containers)
            with self.logger.nested("start all VLans"):
                for nr in self.config.vlans:
                    vlan = VLan(nr, tmp_dir, self.logger, self.bus, self.quiet_children,
                                with_tap=bool(containers))
                    self.vlans.append(vlan)
                    vlan.start()
            callbacks = [self.check_polling_conditions]
            self.machines_qemu = [
                QemuMachine(self.out_dir, tmp_dir, vm.start_script, self.logger, name=vm.name,
                            keep_machine_state=self.keep_machine_state,
                            callbacks=callbacks, bus=self.bus)
                for vm in self.config.vms.values()
            ]
            self.machines_nspawn = [
                NspawnMachine(self.out_dir, c.name, c.start_script, tmp_dir, self.logger,
                              callbacks, self.keep_machine_state, self.bus)
                for c in self.config.containers.values()
            ]
            for machine in self.machines:
                machine.health_checks.append(self.check_vlans)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _prepare_container_host(self, names: list[str]) -> None:
        require_container_host(names)
        if in_nix_sandbox():
            for step in prepare_sandbox_host():
                self.logger.log(f"preparing the Nix sandbox for containers: {step}")

    def __exit__(self, *exc_info: object) -> None:
        with self.logger.nested("cleanup"):
            self.race_timer.cancel()
            for machine in [*self.machines, *self.created_machines]:
                try:
                    machine.release()
                except Exception as exc:  # one machine must not keep the others alive
                    self.logger.error(f"Error during cleanup of {machine.name}: {exc}")
            for vlan in self.vlans:
                try:
                    vlan.stop()
                except Exception as exc:
                    self.logger.error(f"Error during cleanup of vlan{vlan.nr}: {exc}")
            if self.state_root is not None:
                self.state_root.release(keep=self.keep_machine_state)
        remove_test_driver_alias()

    @property
    def machines(self) -> list[BaseMachine]:
        """QEMU machines and containers sorted by name, as network.nix numbers them."""
        every: list[BaseMachine] = [*self.machines_qemu, *self.machines_nspawn]
        return sorted(every, key=lambda machine: machine.name)

    # -- the script's world --------------------------------------------------------------------

    def subtest(self, name: str) -> Any:
        @contextmanager
        def block() -> Iterator[None]:
            with self.logger.subtest(name):
                try:
                    yield
                except Exception as exc:
                    self.logger.log_test_error(f'Test "{name}" failed with error: "{exc}"')
                    raise

        return block()

    def test_symbols(self) -> dict[str, Any]:
        general = {
            "start_all": self.start_all, "test_script": self.test_script,
            "machines": self.machines, "machines_qemu": self.machines_qemu,
            "machines_nspawn": self.machines_nspawn, "vlans": self.vlans, "driver": self,
            "log": self.logger, "os": os, "create_machine": self.create_machine,
            "subtest": self.subtest, "run_tests": self.run_tests, "join_all": self.join_all,
            "retry": script_retry, "serial_stdout_off": self.serial_stdout_off,
            "serial_stdout_on": self.serial_stdout_on,
            "polling_condition": make_polling_condition(self.polling_conditions, self.logger),
            "BaseMachine": BaseMachine, "QemuMachine": QemuMachine,
            "NspawnMachine": NspawnMachine, "t": AssertionTestCase(), "debug": self.debug,
            "dump_machine_ssh": self.dump_machine_ssh,
        }
        machine_symbols: dict[str, Any] = {pythonize_name(m.name): m for m in self.machines}
        if len(self.machines) == 1 and "machine" not in machine_symbols:
            machine_symbols["machine"] = MachineDeprecationWrapper(self.machines[0])
        vlan_symbols = {f"vlan{v.nr}": v for v in self.vlans}
        print(
            "additionally exposed symbols:\n    "
            + ", ".join(m.name for m in self.machines) + ",\n    "
            + ", ".join(vlan_symbols) + ",\n    "
            + ", ".join(general),
            flush=True,
        )
        return {**general, **machine_symbols, **vlan_symbols}

    def run_script(self, text: str | None = None) -> None:
        """Execute the script; exceptions propagate (the TUI and debugger handle them)."""
        code = compile(self.tests if text is None else text, SCRIPT_FILENAME, "exec")
        symbols = self.test_symbols()
        previous = sys.gettrace()
        if self.trace_script_lines:
            sys.settrace(self._script_line_tracer(code))
        try:
            exec(code, symbols, None)  # noqa: S102 - running the test script is the job
        finally:
            if self.trace_script_lines:
                sys.settrace(previous)

    def _script_line_tracer(self, code: CodeType) -> Any:
        """Publishes ScriptLine for frames of the script only; other frames are not traced.

        Frames are matched by code object, not by file name: dataclasses also compile their
        generated methods as `<string>`.
        """
        script_codes = set()
        pending = [code]
        while pending:
            current = pending.pop()
            script_codes.add(current)
            pending.extend(c for c in current.co_consts if isinstance(c, CodeType))

        def local(frame: FrameType, event: str, arg: object) -> Any:
            if event == "line":
                self.bus.publish(ScriptLine(line=frame.f_lineno, function=frame.f_code.co_name))
            return local

        def calls(frame: FrameType, event: str, arg: object) -> Any:
            return local if frame.f_code in script_codes else None

        return calls

    def test_script(self) -> None:
        """Upstream's `test_script()`, with its three failure paths and `sys.exit(1)`."""
        with self.logger.nested("run the VM test script"):
            try:
                self.run_script()
            except MachineError as exc:
                self.report_script_error(exc)
                sys.exit(1)
            except RequestedAssertionFailed as exc:
                self.report_script_error(exc)
                self.debug.breakpoint()
                sys.exit(1)
            except Exception:
                self.debug.breakpoint()
                raise

    def report_script_error(self, exc: BaseException) -> None:
        """Upstream's reports: the full traceback for a MachineError, the script's frames only
        for a failed assertion, Python's own traceback (on stderr) for anything else."""
        if isinstance(exc, MachineError):
            lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
            self.logger.log_test_error("".join(lines).rstrip("\n"))
        elif isinstance(exc, RequestedAssertionFailed):
            self.logger.log_test_error(self.script_traceback(exc))
        else:
            traceback.print_exception(type(exc), exc, exc.__traceback__)

    def script_traceback(self, exc: BaseException) -> str:
        """Only the script's own frames, each with its source line, then `Type: message`."""
        return user_traceback(exc, {SCRIPT_FILENAME: self.tests})

    def run_tests(self) -> None:
        timeout = self.config.global_timeout.total_seconds()
        self.logger.log(f"Test will time out and terminate in {timeout} seconds")
        self.race_timer.start()
        self.test_script()
        for machine in self.machines:  # let the guests flush their disks, as upstream does
            if machine.is_up():
                machine.execute("sync")

    def start_all(self) -> None:
        """Start every machine in parallel; one MachineError lists all that failed."""
        failures: dict[str, BaseException] = {}
        with self.logger.nested("start all VMs"):
            def start(machine: BaseMachine) -> None:
                try:
                    machine.start()
                except BaseException as exc:
                    failures[machine.name] = exc

            threads = [threading.Thread(target=start, args=(m,), name=f"start-{m.name}")
                       for m in self.machines]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if failures:
            details = "\n".join(f"{name}: {exc}" for name, exc in sorted(failures.items()))
            raise MachineError(f"Failed to start the following machines:\n{details}")

    def join_all(self) -> None:
        with self.logger.nested("wait for all VMs to finish"):
            for machine in self.machines:
                machine.wait_for_shutdown()
            self.race_timer.cancel()

    def terminate_test(self) -> None:
        """The global timeout: runs on the timer thread, as upstream's."""
        with self.logger.nested("timeout reached; test terminating..."):
            for machine in self.machines:
                machine.release()
            os.kill(os.getpid(), signal.SIGTERM)

    def create_machine(self, start_command: str | dict[str, Any], *, name: str | None = None,
                       keep_machine_state: bool = False, keep_vm_state: bool | None = None
                       ) -> QemuMachine:
        """A machine that is not part of the config (not in `machines`, no polling checks).

        Also takes the oldest form, a dict with `startCommand`, `name`, `keepVmState`.
        """
        if isinstance(start_command, dict):
            legacy = start_command
            start_command = str(legacy["startCommand"])
            name = legacy.get("name", name)
            keep_machine_state = bool(legacy.get("keepVmState", keep_machine_state))
        if keep_vm_state is not None:
            keep_machine_state = keep_vm_state
        assert self.tmp_dir is not None, "create_machine() needs a running driver"
        machine = QemuMachine(self.out_dir, self.tmp_dir, start_command, self.logger,
                              name=name or machine_name_from(start_command),
                              keep_machine_state=keep_machine_state, bus=self.bus)
        self.created_machines.append(machine)  # not in `machines`, but never left running
        return machine

    def serial_stdout_on(self) -> None:
        self.logger.print_serial_logs(True)

    def serial_stdout_off(self) -> None:
        self.logger.print_serial_logs(False)

    def check_vlans(self) -> None:
        """Before each command: a dead switch cut the guests off; say so instead of letting
        the test fail later on a ping or a timeout."""
        for vlan in self.vlans:
            if vlan.process is not None and vlan.process.poll() is not None:
                raise MachineError(
                    f"the switch of VLAN {vlan.nr} (vde_switch, pid {vlan.pid}) exited with code "
                    f"{vlan.process.returncode}: the machines on it have no network any more"
                )

    def check_polling_conditions(self) -> None:
        check_polling_conditions(self.polling_conditions)

    def dump_machine_ssh(self) -> None:
        if not self.config.enable_ssh_backdoor:
            return
        print("SSH backdoor enabled, but nixtest-tui does not provide it yet", flush=True)
