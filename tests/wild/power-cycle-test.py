# machines: vault
# log: vault: waiting for the VM to power off
# log: vault: forced crash
# Graceful shutdown, a hard crash and two restarts: what survives a reboot and what does not.
from datetime import timedelta
from pathlib import Path

vault.start()
vault.wait_for_unit("echo.service")

with subtest("state on tmpfs and in the shared directory"):
    vault.succeed("echo volatile > /tmp/volatile", "echo durable > /tmp/shared/durable")
    first_boot_id = vault.succeed("cat /proc/sys/kernel/random/boot_id").strip()

with subtest("graceful shutdown"):
    vault.shutdown()
    t.assertFalse(vault.is_up())
    t.assertEqual(vault.process.poll(), 0)
    t.assertEqual((Path(vault.shared_dir) / "durable").read_text(), "durable\n")

with subtest("boot again"):
    vault.start()
    vault.wait_for_unit("echo.service")
    second_boot_id = vault.succeed("cat /proc/sys/kernel/random/boot_id").strip()
    t.assertNotEqual(first_boot_id, second_boot_id)
    vault.fail("test -e /tmp/volatile")
    t.assertEqual(vault.succeed("cat /tmp/shared/durable"), "durable\n")
    # the console log starts afresh with every boot
    t.assertEqual(vault.get_console_log().count("Reached target Multi-User System"), 1)

with subtest("a crash is not a shutdown"):
    vault.succeed("sync")
    vault.crash()
    t.assertFalse(vault.is_up())
    vault.start()
    vault.wait_for_console_text("Reached target Multi-User System",
                                timeout=timedelta(seconds=60))
    uptime = float(vault.succeed("cut -d' ' -f1 /proc/uptime"))
    t.assertLess(uptime, 120)
    vault.wait_for_open_port(7)
