"""Which benchmark is compared with which baseline in bench/RESULTS.md.

A reference is ("gb", "<Google Benchmark name or regex>") or ("py", "<python
baseline name>"). Metrics: "rate:items_per_second" (higher is better; any
counter name works), "time" (ns per iteration), "py" (the python value).
Rows whose benchmarks did not run show n/a.
"""

SECTIONS = []
SERIES = []
