# machines: oldie
# out: legacy/hostname
# log: Polling condition succeeded: hostname_is_stable
# Spellings from older nixpkgs: bare-number timeouts, positional retry timeouts,
# seconds_interval, copy_from_vm, the dict form of create_machine. They must keep working,
# with deprecation warnings that point at the script.
import warnings
from datetime import timedelta

from test_driver.machine import Machine

oldie.wait_for_unit("multi-user.target")

with subtest("bare numbers still work as seconds, with a warning at the script line"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        oldie.wait_until_succeeds("test -e /etc/hostname", timeout=10)
        oldie.sleep(1)
        retry(lambda last_try: True, 5)
    messages = [str(w.message) for w in caught]
    t.assertEqual(len(caught), 3, messages)
    t.assertTrue(all(w.category is UserWarning for w in caught))
    t.assertTrue(all("timedelta" in m for m in messages[:2]), messages)
    # retry's own wording, upstream's: the old keyword, not the number, is what it warns about
    t.assertEqual(messages[2],
                  "retry(): The 'timeout_seconds' argument is deprecated. Use 'timeout' instead.")
    t.assertEqual([(w.filename, w.lineno) for w in caught],
                  [("<string>", 17), ("<string>", 18), ("<string>", 19)])

with subtest("seconds_interval for polling conditions"):
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")

        @polling_condition(seconds_interval=1)
        def hostname_is_stable():
            oldie.succeed("grep -qx oldie /etc/hostname")

    with hostname_is_stable:
        oldie.succeed("true")
        oldie.sleep(duration=timedelta(seconds=2))
        oldie.succeed("true")

with subtest("copy_from_vm is the old name of copy_from_machine"):
    oldie.succeed("uname -n > /tmp/hostname")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        oldie.copy_from_vm("/tmp/hostname", "legacy")
    t.assertTrue(any(issubclass(w.category, DeprecationWarning) for w in caught))
    t.assertEqual((driver.out_dir / "legacy" / "hostname").read_text(), "oldie\n")

with subtest("create_machine with the oldest dict form"):
    legacy = create_machine({"startCommand": driver.config.vms["oldie"].start_script,
                             "name": "legacy-vm", "keepVmState": True})
    t.assertIsInstance(legacy, Machine)
    t.assertEqual(legacy.name, "legacy-vm")
    t.assertTrue(legacy.keep_machine_state)
    t.assertFalse(legacy.is_up())
