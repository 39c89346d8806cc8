# machines: kiosk
# log: kiosk: sending keys 'root\n'
# log: kiosk: sending key 'ctrl-alt-delete'
# Typing on the VGA console (tty1) like a user, then a Ctrl-Alt-Delete reboot.
from datetime import timedelta

kiosk.start(allow_reboot=True)
kiosk.wait_for_unit("multi-user.target")
first_boot = kiosk.succeed("cat /proc/sys/kernel/random/boot_id").strip()

kiosk.succeed("dmesg -n 1")  # kernel messages would land in the middle of what is typed

with subtest("log in on tty1 with the keyboard"):
    kiosk.wait_until_succeeds("ps | grep -q '[g]etty 38400 tty1'", timeout=timedelta(seconds=30))
    kiosk.send_chars("root\n")
    kiosk.wait_until_succeeds("ps | grep -q '[-]bash'", timeout=timedelta(seconds=30))

with subtest("a command typed on the console runs"):
    kiosk.send_chars("echo 'Typed: OK' > /tmp/typed; uname -n >> /tmp/typed\n")
    kiosk.wait_for_file("/tmp/typed", timeout=timedelta(seconds=30))
    kiosk.wait_until_succeeds("grep -qx kiosk /tmp/typed", timeout=timedelta(seconds=10))
    t.assertEqual(kiosk.succeed("cat /tmp/typed"), "Typed: OK\nkiosk\n")
    t.assertIn("echo 'Typed: OK' > /tmp/typed", kiosk.succeed("cat /dev/vcs1"))

with subtest("logging out brings the login prompt back"):
    kiosk.send_key("ctrl-d")
    kiosk.wait_until_fails("ps | grep -q '[-]bash'", timeout=timedelta(seconds=30))
    kiosk.wait_until_succeeds("ps | grep -q '[g]etty 38400 tty1'", timeout=timedelta(seconds=30))

with subtest("ctrl-alt-delete reboots when the machine allows it"):
    kiosk.reboot()
    kiosk.wait_for_unit("multi-user.target")
    second_boot = kiosk.succeed("cat /proc/sys/kernel/random/boot_id").strip()
    t.assertNotEqual(first_boot, second_boot)
    kiosk.fail("test -e /tmp/typed")
    # same QEMU process, so the console log spans both boots
    t.assertEqual(kiosk.get_console_log().count("Reached target Multi-User System"), 2)
