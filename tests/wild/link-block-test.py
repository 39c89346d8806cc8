# machines: alice bob
# log: wait for all VMs to finish
# log: bob: waiting for success: ping -c 1 -W 1 alice
# Unplugging a machine's first VLAN NIC from the monitor, then powering everything off.
from datetime import timedelta

start_all()
for m in machines:
    m.wait_for_unit("echo.service")
alice.succeed("ping -c 1 -W 2 bob")
bob.wait_for_open_port(7, addr="alice")

with subtest("a blocked link drops traffic both ways"):
    alice.block()
    alice.wait_until_succeeds("grep -qx 0 /sys/class/net/eth1/carrier",
                              timeout=timedelta(seconds=10))
    bob.fail("ping -c 1 -W 1 alice")
    alice.fail("ping -c 1 -W 1 bob")
    status, _ = bob.execute("nc -z -w 1 alice 7")
    t.assertNotEqual(status, 0)
    # the user-mode NIC (eth0) is untouched
    t.assertEqual(alice.succeed("cat /sys/class/net/eth0/carrier").strip(), "1")

with subtest("unblocking restores the link"):
    alice.unblock()
    bob.wait_until_succeeds("ping -c 1 -W 1 alice", timeout=timedelta(seconds=30))
    reply = bob.succeed("echo back | timeout 5 nc -w 1 alice 7")
    t.assertEqual(reply.strip(), "back")

with subtest("power everything off and join"):
    for m in machines:
        m.execute("poweroff", check_return=False, check_output=False)
    join_all()
    for m in machines:
        t.assertFalse(m.is_up())
        t.assertEqual(m.process.poll(), 0)
