# machines: console
# log: console: waiting for wild-marker-\d+ to appear on console
# log: console # to stderr from a command
# nolog: console # quiet-marker
# The serial console (log and waiting on it), the HMP monitor and QMP events.
from datetime import timedelta

console.start()

with subtest("the boot shows on the serial console"):
    console.wait_for_console_text("Reached target Multi-User System",
                                  timeout=timedelta(seconds=60))
    boot_log = console.get_console_log()
    t.assertIn("Started TCP echo service on port 7.", boot_log)

with subtest("guest messages reach the console"):
    console.succeed("echo 'wild-marker-42' > /dev/console")
    console.wait_for_console_text(r"wild-marker-\d+", timeout=timedelta(seconds=30))
    t.assertIn("wild-marker-42", console.get_console_log())
    console.succeed("echo 'to stderr from a command' >&2")
    console.wait_for_console_text("to stderr from a command", timeout=timedelta(seconds=30))

with subtest("systemd-cat lands in the journal and on the console"):
    console.succeed("echo 'from the app' | systemd-cat -t wildapp")
    console.wait_for_console_text(r"console wildapp\[\d+\]: from the app",
                                  timeout=timedelta(seconds=30))
    t.assertIn("from the app", console.succeed("journalctl SYSLOG_IDENTIFIER=wildapp"))

with subtest("serial lines can be kept out of the log"):
    serial_stdout_off()
    console.succeed("echo quiet-marker > /dev/console")
    console.wait_for_console_text("quiet-mark[e]r", timeout=timedelta(seconds=30))
    serial_stdout_on()
    t.assertIn("quiet-marker", console.get_console_log())

with subtest("the HMP monitor"):
    t.assertIn("VM status: running", console.send_monitor_command("info status"))
    network = console.send_monitor_command("info network")
    t.assertIn("virtio-net-pci.1", network)
    t.assertIn("macaddr=52:54:00:12:01:01", network)

with subtest("pausing the VM emits QMP events"):
    console.send_monitor_command("stop")
    event = console.wait_for_qmp_event(lambda e: e["event"] == "STOP",
                                       timeout=timedelta(seconds=10))
    t.assertEqual(event["event"], "STOP")
    t.assertIn("VM status: paused", console.send_monitor_command("info status"))
    t.assertFalse(console.qmp_client.send("query-status")["return"]["running"])
    console.send_monitor_command("cont")
    console.wait_for_qmp_event(lambda e: e["event"] == "RESUME", timeout=timedelta(seconds=10))
    t.assertEqual(console.succeed("echo still alive"), "still alive\n")
