"""Attaching to a script paused on failure in a headless run (`--break-on-failure`).

The run serves a unix socket of mode 0600 in the driver's temporary directory - not a TCP
port every local user can reach, as upstream's remote-pdb on 127.0.0.1:4444 is. The protocol
is one JSON object per line each way: `{"eval": "<python>"}` answers
`{"output": ..., "error": ...}`; `{"action": "retry"|"skip"|"raise"}` answers `{"ok": true}`
and resumes the script; `{"where": true}` answers the paused line and error.
`nixtest-tui attach SOCKET` is a small client REPL; the TUI can speak the same protocol.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from nixtest_tui.debugger.commands import Action
from nixtest_tui.debugger.runner import ScriptRunner

PROMPT = "(nixtest) "
HELP = ("Python runs in the failing frame (e.g. machine.succeed(\"journalctl -u foo\")).\n"
        ":retry re-runs the failed statement, :skip goes on after it, :fail lets it fail, "
        ":where shows where the script stopped.")


class AttachServer:
    def __init__(self, runner: ScriptRunner, path: Path) -> None:
        self.runner = runner
        self.path = path
        self._resolved = threading.Event()
        path.unlink(missing_ok=True)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket is born 0600: no window for other users
        try:
            self._server.bind(str(path))
        finally:
            os.umask(old_umask)
        self._server.listen(1)
        self._thread = threading.Thread(target=self._serve, name="attach", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._resolved.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            with connection, connection.makefile("rw") as stream:
                for line in stream:
                    reply = self._answer(json.loads(line))
                    stream.write(json.dumps(reply) + "\n")
                    stream.flush()
                    if self._resolved.is_set():
                        break

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        if "eval" in request:
            result = self.runner.evaluate(str(request["eval"]))
            return {"output": result.output, "error": result.error}
        if "action" in request:
            refused = self.runner.resolve_failure(Action(str(request["action"])))
            if refused:
                return {"ok": False, "error": refused}
            self._resolved.set()
            return {"ok": True}
        error = self.runner.failure
        return {"line": self.runner.paused_line,
                "error": f"{type(error).__name__}: {error}" if error else ""}

    def wait_resolved(self) -> None:
        self._resolved.wait()

    def close(self) -> None:
        self._resolved.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self.path.unlink(missing_ok=True)


def request(stream: Any, message: dict[str, Any]) -> dict[str, Any]:
    stream.write(json.dumps(message) + "\n")
    stream.flush()
    reply: dict[str, Any] = json.loads(stream.readline())
    return reply


def attach(path: Path) -> int:
    """The interactive client behind `nixtest-tui attach SOCKET`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        try:
            client.connect(str(path))
        except OSError as exc:
            print(f"nixtest-tui attach: cannot connect to {path}: {exc.strerror}", file=sys.stderr)
            return 1
        with client.makefile("rw") as stream:
            where = request(stream, {"where": True})
            print(f"paused at line {where['line']}: {where['error']}\n{HELP}")
            actions = {":retry": "retry", ":skip": "skip", ":fail": "raise"}
            while True:
                try:
                    line = input(PROMPT)
                except EOFError:
                    return 0
                if line.strip() in actions:
                    reply = request(stream, {"action": actions[line.strip()]})
                    if reply.get("ok"):
                        return 0
                    print(reply.get("error", "refused"), file=sys.stderr)
                    continue
                if line.strip() == ":where":
                    print(request(stream, {"where": True}))
                    continue
                reply = request(stream, {"eval": line})
                if reply["output"]:
                    print(reply["output"])
                if reply["error"]:
                    print(reply["error"], file=sys.stderr)
