"""The flaky hunter: run one test many times, isolated, and compare failing runs with passing.

UI-free (no Textual), so that the live view, the plain progress lines and the benchmark share
it: `runner` schedules the runs as subprocesses, `chaos` and `startwrap` provoke flakes,
`outcome` and `divergence` read the runs' traces, `stats` and `summary` fold them for people
and for CI dashboards.
"""
