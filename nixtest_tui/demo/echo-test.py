# The bundled demo test, written as a NixOS test script (testScript) is written.
# Three machines on two VLANs: `server` runs an echo service on VLAN 1, `client` sits on both
# VLANs, and `outsider` is only on VLAN 2, so it must not reach the server.
start_all()

with subtest("the echo service comes up"):
    server.wait_for_unit("echo.service")
    server.wait_for_open_port(7)

with subtest("the client talks to the server over VLAN 1"):
    client.wait_for_unit("multi-user.target")
    client.succeed("ping -c 1 -W 5 server")
    reply = client.succeed("echo hello | nc -w 2 server 7")
    t.assertEqual(reply.strip(), "hello")

with subtest("the outsider reaches the client but not the server"):
    outsider.succeed("ping -c 1 -W 5 192.168.2.1")
    outsider.fail("ping -c 1 -W 2 192.168.1.3")

with subtest("a flaky step, retried"):
    client.succeed("rm -f /tmp/ready")

    def ready(last_try):
        # fails on the first attempt: the marker only appears after the first probe
        found = client.execute("test -e /tmp/ready")[0] == 0
        client.succeed("touch /tmp/ready")
        return found

    retry(ready)

with subtest("the server's screen shows its login prompt"):
    server.wait_for_text("login|tiny test")
    server.screenshot("server-login")
