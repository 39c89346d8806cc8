"""QEMU machine methods nixtest-tui does not offer yet: EFI variables and the SSH backdoor.

They exist with upstream's names so that a script calling them fails with a clear
`MachineError` instead of an AttributeError.
"""

from __future__ import annotations

from typing import Any

from nixtest_tui.driver.errors import MachineError


class UnsupportedMixin:
    vsock_host: str | None

    def ssh_backdoor_command(self) -> str:
        if not self.vsock_host:
            raise MachineError("the SSH backdoor is not enabled for this test")
        return f"ssh -o User=root vsock-mux/{self.vsock_host}"

    def _unsupported(self, what: str) -> MachineError:
        return MachineError(f"{what} is not supported by nixtest-tui yet")

    def create_efi_vars(self) -> None:
        raise self._unsupported("create_efi_vars()")

    def write_efi_vars(self, variables: Any) -> None:
        raise self._unsupported("write_efi_vars()")

    def read_efi_vars(self) -> Any:
        raise self._unsupported("read_efi_vars()")

    def dump_efi_vars(self) -> None:
        raise self._unsupported("dump_efi_vars()")
