#!/usr/bin/env python3
"""run_rss.py OUTFILE CMD ARGS...: runs CMD, streams its output, then writes the
peak resident set size (KiB) of CMD and its children to OUTFILE. Exits with
CMD's status."""
import resource
import subprocess
import sys

out, cmd = sys.argv[1], sys.argv[2:]
rc = subprocess.call(cmd)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
with open(out, "w") as f:
    f.write("%d\n" % peak)
sys.exit(rc)
