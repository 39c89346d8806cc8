# machines: cluster-a
# expect: exit 1
# log: !!! Test "every node is in /etc/hosts" failed with error: \
# "1 != 3 : expected three nodes in /etc/hosts"
# log: !!!   File "<string>", line 11, in <module>
# log: !!! RequestedAssertionFailed: 1 != 3 : expected three nodes in /etc/hosts
# EXPECTED TO FAIL: a t.assertEqual with a message, in a one-node network that wanted three.

with subtest("every node is in /etc/hosts"):
    count = int(cluster_a.succeed("grep -c '^192\\.168\\.' /etc/hosts"))
    t.assertEqual(count, 3, "expected three nodes in /etc/hosts")
