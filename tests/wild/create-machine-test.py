# machines: installer
# log: target: starting vm
# log: target: waiting for the VM to power off
# The installer-test pattern: one machine prepares something, then a machine created from a
# start script boots and checks it.
from test_driver.machine import QemuMachine

installer.wait_for_unit("multi-user.target")

with subtest("the installer leaves its result in the shared directory"):
    installer.succeed(
        "mkdir -p /tmp/shared/target",
        "echo \"installed by $(uname -n)\" > /tmp/shared/target/stamp",
    )
    installer.shutdown()

start_script = driver.config.vms["installer"].start_script

with subtest("create_machine derives the name from run-<name>-vm"):
    unnamed = create_machine(start_script)
    t.assertEqual(unnamed.name, "installer")
    t.assertFalse(unnamed.is_up())

with subtest("a second machine from the same start script"):
    target = create_machine(start_command=start_script, name="target")
    t.assertIsInstance(target, QemuMachine)
    t.assertNotIn(target, machines)
    t.assertEqual(target.name, "target")
    t.assertNotEqual(target.state_dir, installer.state_dir)
    target.start()
    target.wait_for_unit("echo.service")
    t.assertEqual(target.succeed("cat /tmp/shared/target/stamp"), "installed by installer\n")
    target.shutdown()
    t.assertFalse(target.is_up())
    t.assertEqual(target.process.poll(), 0)
