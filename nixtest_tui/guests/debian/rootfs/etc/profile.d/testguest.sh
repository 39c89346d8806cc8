# Test commands read output, never a pager. TESTGUEST_PROFILE lets a script see that the
# backdoor sourced /etc/profile (docs/guest-contract.md).
export PAGER=
export TESTGUEST_PROFILE=sourced
