#!/usr/bin/env python3
"""Writes dist/symbol-order.txt: the functions amctl runs, for the linker to lay out together.

Usage: cargo dist && python3 benches/symbol_order.py [path/to/amctl]

`cargo dist` links with `--symbol-ordering-file=dist/symbol-order.txt` (see .cargo/config.toml):
the functions named there come first in .text, in the file's order, and everything else
after. A render runs ~900 functions spread over 7 MB of code; scattered, their first calls
took 50 page faults (each mapping 64 KB around it), laid out together 29, for 3% of a
`render prod` (see the README's Performance section).

The list is what valgrind's callgrind sees a set of commands execute (render prod first, the
benchmark, then the other commands), restricted to the functions the binary defines. It is
regenerated after larger code changes: a function whose mangled name changed since is only
placed as if it were not listed (the link passes --no-warn-symbol-ordering), and the output of
amctl never depends on the layout. Needs valgrind (Debian package `valgrind`).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(repo, "target", "dist", "amctl"))
if not os.access(binary, os.X_OK):
    sys.exit(f"no amctl binary at {binary}: build it first (`cargo dist`), or pass its path")
if not shutil.which("valgrind"):
    sys.exit("valgrind is not installed: install it (Debian package `valgrind`) and run this again")

COMMANDS = [
    ["render", "prod"],
    ["render", "demo"],
    ["render", "prod", "-o", "json"],
    ["validate", "prod"],
    ["budget", "prod"],
    ["diff", "demo", "prod"],
    ["diff", "demo", "prod", "--fields"],
    ["migrate", "demo", "prod"],
    ["explain", "flink.taskmanager"],
    ["--version"],
]

defined = set()
nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True)
for line in nm.stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tTwW":
        defined.add(parts[2])

order, seen = [], set()
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "callgrind.out")
    for cmd in COMMANDS:
        if os.path.exists(out):
            os.remove(out)
        run = subprocess.run(["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}", binary]
                             + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=repo)
        if not os.path.exists(out):
            sys.exit(f"valgrind wrote no profile for `amctl {' '.join(cmd)}` (exit {run.returncode}):\n"
                     f"{run.stderr.strip()[-2000:]}\nnothing written; fix that and run this again")
        with open(out) as f:
            new = {m.group(1) for m in (re.match(r"c?fn=\(\d+\) (\S+)", line) for line in f)
                   if m and m.group(1) in defined} - seen
        # Each command's new functions after the previous commands', sorted: callgrind lists
        # functions in no stable order, and the file should change only when the code does.
        order += sorted(new)
        seen |= new

if not order:
    sys.exit("callgrind saw no function of the binary run: nothing written (is it the binary that was built?)")

target = os.path.join(repo, "dist", "symbol-order.txt")
os.makedirs(os.path.dirname(target), exist_ok=True)
with open(target, "w") as f:
    f.write("".join(name + "\n" for name in order))
print(f"{target}: {len(order)} functions from {len(COMMANDS)} commands")
