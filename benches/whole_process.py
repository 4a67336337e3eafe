#!/usr/bin/env python3
"""Whole-process benchmark: wall time (median, p90) and peak RSS of amctl commands.

Usage: cargo build --release && python3 benches/whole_process.py [path/to/amctl] [--runs N]
       python3 benches/whole_process.py NEW --compare OLD [--runs N]
       python3 benches/whole_process.py --helm HELM --chart CHART_DIR   (adds helm template)

--compare times `render prod` of two builds and `cat` of its output in turn, N times each, and
prints only that: the A/B comparison of a change (build main, copy the binary away, build the
change). Both are copied afresh first: on our VM the same bytes copied an hour earlier ran ~20%
slower than a fresh copy (4.23 vs 3.53 ms, 1,000 interleaved runs), so binaries of different
ages must not be compared.

The binary (default: target/release/amctl) is first copied into a temporary directory, as `cargo install` copies it: a file the linker has
just written sits in the page cache in small pieces, and starting it took ~0.3-0.5 ms longer
on our VMs than starting a copy of the same bytes.

Each command runs N times after 3 warm-up runs, output to /dev/null. `render prod` and `cat` of
its output run alternately (one of each, N times), so that drift on a shared machine moves
both alike and their ratio stays fair. Peak RSS is the largest
maximum resident set of 5 runs under GNU time (`/usr/bin/time -f %M`, Debian package `time`):
measuring it from this Python process would count Python's own pages, inherited by the fork. For scale, `cat` of the same
output is timed too: a process that does nothing but write the bytes.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
default = os.path.join(repo, "target", "release", "amctl")
parser = argparse.ArgumentParser(description="Whole-process benchmark of amctl (see the module docstring).")
parser.add_argument("binary", nargs="?", default=default,
                    help="the amctl to time (default: target/release/amctl)")
parser.add_argument("--runs", type=int, default=200, metavar="N", help="timed runs per command (default 200)")
parser.add_argument("--compare", metavar="OLD", help="another amctl build: time render prod of both, and cat")
parser.add_argument("--helm", metavar="HELM", help="a helm binary: time `helm template` of --chart beside render prod")
parser.add_argument("--chart", metavar="DIR", help="an unpacked chart for --helm (e.g. bitnami/postgresql)")
opts = parser.parse_args()
if opts.runs < 1:
    parser.error(f"--runs {opts.runs}: give a positive number of runs")
if bool(opts.helm) != bool(opts.chart):
    parser.error("--helm and --chart go together: the helm binary and the chart directory it renders")


def binary(path):
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        parser.error(f"no amctl binary at {path}: build it first (`cargo build --release`), or pass its path")
    return path


built = binary(opts.binary)
old = binary(opts.compare) if opts.compare else None
runs = opts.runs


def once(cmd):
    start = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                       (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    _, status, _ = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed with {status}")
    return elapsed


def peak_rss(cmd):
    peak = 0
    if os.path.exists("/usr/bin/time"):
        for _ in range(5):
            r = subprocess.run(["/usr/bin/time", "-o", "/dev/stderr", "-f", "%M"] + cmd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            peak = max(peak, int(r.stderr.strip().splitlines()[-1]))
    return peak / 1024


def interleaved(cmds, n=None):
    """Median, p90 and peak RSS of each command, the commands run in turn n (default: --runs)
    times after 3 warm-up rounds."""
    times = [[] for _ in cmds]
    for i in range((n or runs) + 3):
        for t, cmd in zip(times, cmds):
            elapsed = once(cmd)
            if i >= 3:
                t.append(elapsed)
    out = []
    for t, cmd in zip(times, cmds):
        t.sort()
        out.append((statistics.median(t) * 1000, t[int(len(t) * 0.9)] * 1000, peak_rss(cmd)))
    return out


def measure(cmd, n=None):
    return interleaved([cmd], n)[0]


def print_row(label, med, p90, rss):
    print(f"| {label:<34} | {med:8.2f} | {p90:8.2f} | {rss:8.1f} |")


def row(label, cmd, n=None):
    med, p90, rss = measure(cmd, n)
    print_row(label, med, p90, rss)
    return med


def installed(path, tmp, name):
    """A copy of the binary in tmp, as `cargo install` would put it."""
    copy = os.path.join(tmp, name)
    shutil.copyfile(path, copy)
    os.chmod(copy, 0o755)
    return copy


with tempfile.TemporaryDirectory() as tmp:
    amctl = installed(built, tmp, "amctl")
    print(f"binary: {built} (timed as a copy in {tmp})")
    rendered = os.path.join(tmp, "prod.yaml")
    with open(rendered, "w") as f:
        subprocess.run([amctl, "render", "prod"], stdout=f, check=True)
    cat = "/bin/cat"
    print(f"runs per command: {runs}; output of render prod: {os.path.getsize(rendered)} bytes\n")
    print("| command                            | median ms | p90 ms | peak RSS MiB |")
    print("|------------------------------------|----------:|-------:|-------------:|")
    if old:
        before = installed(old, tmp, "amctl-old")
        results = interleaved([[before, "render", "prod"], [amctl, "render", "prod"], [cat, rendered]])
        for label, r in zip(("render prod, --compare build", "render prod, this build", "cat of its output"), results):
            print_row(label, *r)
        (bmed, _, _), (amed, _, _), (cmed, _, _) = results
        print(f"\nthis build / --compare build: {amed / bmed:.3f}; render prod / cat: {bmed / cmed:.2f}x before, "
              f"{amed / cmed:.2f}x after")
        sys.exit(0)
    row("amctl render demo", [amctl, "render", "demo"])
    (render, rp90, rrss), (catted, cp90, crss) = interleaved([[amctl, "render", "prod"], [cat, rendered]])
    print_row("amctl render prod", render, rp90, rrss)
    if opts.helm:
        # helm template of one chart and render prod in turn, on their own: a 50 MB Go process
        # between two renders evicts their caches, so it is kept out of the render/cat pairs.
        # A fifth of the runs (helm is ~20x slower) keeps the whole run short.
        helm = [os.path.abspath(opts.helm), "template", "bench", os.path.abspath(opts.chart)]
        (hrender, _, _), (hmed, hp90, hrss) = interleaved([[amctl, "render", "prod"], helm], max(20, runs // 5))
    row("amctl render prod -o json", [amctl, "render", "prod", "-o", "json"])
    row("amctl validate prod", [amctl, "validate", "prod"])
    row("amctl budget prod", [amctl, "budget", "prod"])
    row("amctl diff demo prod", [amctl, "diff", "demo", "prod"])
    row("amctl diff demo prod --fields", [amctl, "diff", "demo", "prod", "--fields"])
    row("amctl fit prod (50 nodes)", [amctl, "fit", "prod", "--nodes", "50", "--node-memory", "64Gi", "--node-cpu", "16"])
    extra = [l.split("=", 1) for l in os.environ.get("AMCTL_BENCH_EXTRA", "").split(";") if "=" in l]
    for label, command in extra:
        row(label, [amctl] + command.split())
    print_row("cat of render prod's output", catted, cp90, crss)
    if opts.helm:
        print_row("helm template of --chart", hmed, hp90, hrss)
    outdir = os.path.join(tmp, "prod-dir")
    subprocess.run([amctl, "render", "prod", "--out-dir", outdir], check=True, stderr=subprocess.DEVNULL)
    kubectl = subprocess.run(["which", "kubectl"], capture_output=True, text=True).stdout.strip()
    if kubectl:
        kust = row("kubectl kustomize of the same objects", [kubectl, "kustomize", outdir], max(10, runs // 10))
        print(f"\nrender prod / cat: {render / catted:.2f}x; render prod / kubectl kustomize: {render / kust:.2f}x")
    else:
        print(f"\nrender prod / cat: {render / catted:.2f}x")
    if opts.helm:
        print(f"helm template / render prod: {hmed / hrender:.1f}x (helm {hmed:.2f} ms, render prod "
              f"{hrender:.2f} ms in the same runs, in turn)")

    # Scale: N API services, M Aerospike namespaces, K Kafka topics (benches/gen_profile.py).
    here = os.path.dirname(os.path.abspath(__file__))
    print("\n| services N | namespaces M | topics K | render median ms | validate median ms | objects | peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, m, k in ((10, 2, 10), (100, 10, 50), (1000, 30, 500)):
        path = os.path.join(tmp, f"gen-{n}.toml")
        with open(path, "w") as f:
            subprocess.run([sys.executable, os.path.join(here, "gen_profile.py"), str(n), str(m), str(k)], stdout=f, check=True)
        rmed, _, rss = measure([amctl, "render", path], max(10, runs // 5))
        vmed, _, _ = measure([amctl, "validate", path], max(10, runs // 5))
        objects = subprocess.run([amctl, "render", path], capture_output=True, text=True).stdout.count("\nkind: ")
        print(f"| {n} | {m} | {k} | {rmed:.1f} | {vmed:.1f} | {objects} | {rss:.1f} |")
