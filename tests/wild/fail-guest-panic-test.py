# machines: fragile
# expect: exit 1
# log: fragile: must succeed: echo c > /proc/sysrq-trigger
# log: !!! Test "the guest survives a kernel panic" failed with error:
# log: !!! Traceback (most recent call last):
# log: MachineError:
# EXPECTED TO FAIL: the guest kernel panics under a command. QEMU goes away (panic=-1 with
# -no-reboot), which is the driver's MachineError path: the whole traceback, then exit 1.

fragile.wait_for_unit("multi-user.target")
fragile.succeed("echo 1 > /proc/sys/kernel/sysrq")

with subtest("the guest survives a kernel panic"):
    fragile.succeed("echo c > /proc/sysrq-trigger")
    fragile.succeed("true")
