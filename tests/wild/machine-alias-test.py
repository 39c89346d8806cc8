# machines: server
# stdout: server,
# log: server: waiting for unit echo.service
# A single-machine test may say `machine` for its only node, even when it is named otherwise.
import warnings

with subtest("the implicit machine alias"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        machine.wait_for_unit("echo.service")
    t.assertTrue(any("deprecated" in str(w.message) for w in caught),
                 [str(w.message) for w in caught])
    t.assertEqual(machine.name, "server")
    t.assertEqual(machines, [server])
    t.assertEqual(machine.succeed("cat /etc/hostname"), server.succeed("uname -n"))

with subtest("execute returns status and output"):
    status, out = machine.execute("cat /etc/hostname")
    t.assertEqual((status, out), (0, "server\n"))
    status, out = server.execute("echo -n partial; exit 3")
    t.assertEqual(status, 3)
    t.assertEqual(out, "partial")
    status, out = server.execute("systemctl is-active hello.service")
    t.assertEqual((status, out.strip()), (3, "inactive"))  # systemd's exit code for inactive
