# Test commands read output, never a pager.
export PAGER=
