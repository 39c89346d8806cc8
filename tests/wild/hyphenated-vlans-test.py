# machines: web-1@1,2 db@2
# stdout: db, web-1,
# stdout: vlan1, vlan2,
# log: web-1: starting vm
# A router-less two-VLAN topology: `web-1` is `web_1` here; db only shares VLAN 2 with it.
from datetime import timedelta

start_all()

with subtest("machines and VLANs as the driver exposes them"):
    t.assertEqual([m.name for m in machines], ["db", "web-1"])  # sorted: db is node 1
    t.assertEqual([v.nr for v in vlans], [1, 2])
    t.assertIs(vlans[1], vlan2)
    t.assertIs(machines[1], web_1)

with subtest("one NIC per VLAN, addressed by node number"):
    web_1.succeed(
        "ip addr show eth1 | grep -q 'inet 192.168.1.2/24'",
        "ip addr show eth2 | grep -q 'inet 192.168.2.2/24'",
        "ip addr show eth2 | grep -q 'inet6 2001:db8:2::2/64'",
    )
    db.succeed("ip addr show eth1 | grep -q 'inet 192.168.2.1/24'")
    db.fail("ip addr show eth2")
    # /etc/hosts names every machine by its address on its first VLAN
    t.assertIn("192.168.1.2 web-1", db.succeed("cat /etc/hosts"))
    t.assertIn("192.168.2.1 db", web_1.succeed("cat /etc/hosts"))

with subtest("db reaches web-1 over VLAN 2 only"):
    db.succeed("ping -c 1 -W 2 192.168.2.2", "ping6 -c 1 -W 2 2001:db8:2::2")
    web_1.succeed("ping -c 1 -W 2 db")
    db.fail("ping -c 1 -W 1 192.168.1.2")  # no router between the VLANs
    db.fail("ping -c 1 -W 1 web-1")

with subtest("a web server on web-1 serves db"):
    web_1.succeed(
        "mkdir -p /srv/www",
        "echo 'served by web-1' > /srv/www/index.html",
        "httpd -p 80 -h /srv/www",
    )
    web_1.wait_for_open_port(80)
    db.wait_for_open_port(80, addr="192.168.2.2", timeout=timedelta(seconds=30))
    page = db.succeed("wget -qO- http://192.168.2.2/")
    t.assertEqual(page, "served by web-1\n")
    db.fail("timeout 5 wget -qO- http://192.168.2.2/missing.html")
