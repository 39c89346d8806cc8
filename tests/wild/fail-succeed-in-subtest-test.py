# machines: db
# expect: exit 1
# log: db: output: no database here
# log: !!! Test "database is initialised" failed with error: \
# "command `echo 'no database here'; cat /var/lib/db/initialised` failed (exit code 1)"
# log: !!! Traceback (most recent call last):
# log: !!!   File "<string>", line 21, in <module>
# log: !!!     db.succeed("echo 'no database here'; cat /var/lib/db/initialised")
# log: !!! RequestedAssertionFailed: \
# command `echo 'no database here'; cat /var/lib/db/initialised` failed (exit code 1)
# nolog: subtest: never reached
# EXPECTED TO FAIL: a succeed() inside a subtest fails; the script stops there.

db.wait_for_unit("multi-user.target")

with subtest("the service is up"):
    db.wait_for_unit("echo.service")
    db.wait_for_open_port(7)

with subtest("database is initialised"):
    db.succeed("echo 'no database here'; cat /var/lib/db/initialised")

with subtest("never reached"):
    db.succeed("true")
