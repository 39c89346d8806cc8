# machines: server
# log: server: waiting for unit hello.service
# log: server: checking if unit 'hello.service' has reached state 'inactive'
# Units the way NixOS tests poke at them: state, properties, start/stop, failures, the journal.
from datetime import timedelta

from test_driver.errors import RequestedAssertionFailed

server.wait_for_unit("multi-user.target")

with subtest("hello.service is installed but not started at boot"):
    server.require_unit_state("hello.service", "inactive")
    info = server.get_unit_info("hello.service")
    t.assertEqual(info["Type"], "oneshot")
    t.assertEqual(info["RemainAfterExit"], "yes")
    t.assertEqual(info["UnitFileState"], "disabled")
    with t.assertRaises(RequestedAssertionFailed) as raised:
        server.wait_for_unit("hello.service", timeout=timedelta(seconds=10))
    t.assertEqual(str(raised.exception),
                  'unit "hello.service" is inactive and there are no pending jobs')

with subtest("a oneshot with RemainAfterExit stays active"):
    status, _ = server.start_job("hello.service")
    t.assertEqual(status, 0)
    server.wait_for_unit("hello.service")
    t.assertEqual(server.get_unit_property("hello.service", "SubState"), "exited")
    server.wait_until_succeeds("journalctl -u hello.service | grep -q 'hello from the tiny guest'",
                               timeout=timedelta(seconds=10))
    server.stop_job("hello.service")
    server.require_unit_state("hello.service", "inactive")

with subtest("a failing unit degrades the system"):
    status, _ = server.systemctl("start broken.service")
    t.assertNotEqual(status, 0)
    with t.assertRaises(RequestedAssertionFailed) as raised:
        server.wait_for_unit("broken.service")
    t.assertEqual(str(raised.exception), 'unit "broken.service" reached state "failed"')
    t.assertEqual(server.get_unit_property("broken.service", "ExecMainStatus"), "3")
    t.assertIn("this unit fails on purpose", server.succeed("journalctl -u broken.service"))
    t.assertEqual(server.fail("systemctl is-system-running").strip(), "degraded")
    server.systemctl("reset-failed")
    t.assertEqual(server.succeed("systemctl is-system-running").strip(), "running")

with subtest("an unknown unit"):
    t.assertEqual(server.get_unit_property("no-such.service", "LoadState"), "not-found")
    status, _ = server.systemctl("start no-such.service")
    t.assertEqual(status, 5)
