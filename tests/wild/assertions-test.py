# machines: checker
# log: checker: must succeed: echo one
# log: checker: must fail: false
# log: checker: output: nope
# log: subtest: t assertions are driver assertions
# succeed()/fail()/execute() contracts and the `t` assertion object.
from test_driver.errors import RequestedAssertionFailed

checker.wait_for_unit("multi-user.target")

with subtest("succeed() with several commands concatenates their output"):
    out = checker.succeed("echo one", "echo -n two", "printf ' three\\n'")
    t.assertEqual(out, "one\ntwo three\n")

with subtest("fail() returns what the failing commands printed"):
    out = checker.fail("echo nope; exit 2", "false")
    t.assertEqual(out, "nope\n")

with subtest("a failing command stops succeed() at that command"):
    with t.assertRaises(RequestedAssertionFailed) as raised:
        checker.succeed("true", "echo nope; test -d /nonexistent", "touch /tmp/not-reached")
    t.assertEqual(str(raised.exception),
                  "command `echo nope; test -d /nonexistent` failed (exit code 1)")
    checker.fail("test -e /tmp/not-reached")

with subtest("fail() on a command that succeeds"):
    with t.assertRaises(RequestedAssertionFailed) as raised:
        checker.fail("true")
    t.assertEqual(str(raised.exception), "command `true` unexpectedly succeeded")

with subtest("commands run in bash with errexit, nounset and pipefail"):
    checker.fail("false | true")
    checker.fail("echo $UNSET_VARIABLE")
    checker.fail("false; echo unreachable")
    t.assertEqual(checker.succeed("echo ${BASH_VERSION%%.*}").strip().isdigit(), True)
    t.assertEqual(checker.succeed("printf 'a\\n\\n\\n'"), "a\n\n\n")  # trailing newlines kept

with subtest("execute() does not judge"):
    status, out = checker.execute("echo x; exit 5")
    t.assertEqual((status, out), (5, "x\n"))
    status, out = checker.execute("echo x; exit 5", check_return=False)
    t.assertEqual((status, out), (-1, "x\n"))
    status, out = checker.execute("echo y >&2; echo z")
    t.assertEqual((status, out), (0, "z\n"))  # stderr is not captured

with subtest("t assertions are driver assertions"):
    t.assertTrue(issubclass(t.failureException, RequestedAssertionFailed))
    with t.assertRaises(RequestedAssertionFailed):
        t.assertEqual(checker.succeed("uname -n").strip(), "someone-else")
    with t.assertRaises(RequestedAssertionFailed):
        t.assertIn("bash", checker.succeed("cat /etc/hostname"))

with subtest("log blocks from the script"):
    with log.nested("checking the log API"):
        log.info("an info line from the script")
        checker.log("a line attributed to the checker")
    with checker.nested("a block attributed to the checker"):
        checker.succeed("true")
