# machines: server client
# stdout: additionally exposed symbols:
# log: subtest: echo round trip over VLAN 1
# log: server: waiting for TCP port 7 on localhost
# log: client: waiting for TCP port 7 on server
# The classic echo-service test: sync on the unit, then on the port, then talk to it.
from datetime import timedelta

start_all()

with subtest("server comes up"):
    server.wait_for_unit("echo.service")
    server.wait_for_open_port(7)
    t.assertEqual(server.succeed("cat /etc/hostname").strip(), "server")

with subtest("client sees the service across the VLAN"):
    client.systemctl("start network-online.target")
    client.wait_for_unit("network-online.target")
    client.wait_for_open_port(7, addr="server", timeout=timedelta(seconds=30))

with subtest("echo round trip over VLAN 1"):
    for message in ("hello", "tiny guests say hi"):
        reply = client.succeed(f"echo '{message}' | timeout 5 nc -w 1 server 7")
        t.assertEqual(reply.strip(), message)

with subtest("addresses follow the sorted node numbering"):
    # "client" sorts before "server": client is node 1, server is node 2 on VLAN 1
    t.assertIn("192.168.1.2 server", client.succeed("cat /etc/hosts"))
    server.succeed("ping -c 1 -W 2 192.168.1.1", "ping -c 1 -W 2 client")
    client.succeed("ping6 -c 1 -W 2 2001:db8:1::2")
