#!/usr/bin/env python3
"""Every output of two amctl builds, compared byte for byte.

Usage: python3 benches/compare_outputs.py OLD NEW

Runs the same commands with both binaries (every profile and example, each command and output
format, help pages, completions, the man page, error paths, --out-dir trees, large generated
profiles) and compares stdout, stderr and the exit code of each. For a refactor that must not
change what users see: build main, copy the binary away, build the change, run this. Prints
one line per difference and a summary; exits 1 when anything differs.
"""
import os
import shutil
import subprocess
import sys
import tempfile

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if len(sys.argv) != 3:
    sys.exit(__doc__)
old, new = (os.path.abspath(p) for p in sys.argv[1:3])
for b in (old, new):
    if not os.access(b, os.X_OK):
        sys.exit(f"no amctl binary at {b}: build it first (cargo build --release)")

work = tempfile.mkdtemp(prefix="amctl-compare-")
profiles = ["demo", "prod"] + sorted(
    os.path.join("examples", f) for f in os.listdir(os.path.join(repo, "examples")) if f.endswith(".toml"))

# Large profiles, as the benchmarks generate them.
big = []
for n, m, k in ((100, 10, 50), (1000, 30, 500)):
    path = os.path.join(work, f"services-{n}.toml")
    with open(path, "w") as f:
        subprocess.run([sys.executable, os.path.join(repo, "benches", "gen_profile.py"), str(n), str(m), str(k)],
                       stdout=f, check=True, cwd=repo)
    big.append(path)

bad = os.path.join(work, "bad.toml")
with open(bad, "w") as f:
    f.write('extends = "demo"\n[kafka]\nbrokerz = 3\n')
broken = os.path.join(work, "broken.toml")
with open(broken, "w") as f:
    f.write('extends = "demo"\n[kafka\n')

cmds = []
for p in profiles:
    cmds += [
        ["render", p, "--skip-validation"],
        ["render", p, "--skip-validation", "-o", "json"],
        ["render", p],
        ["render", p, "-n", "team-a", "--skip-validation"],
        ["validate", p],
        ["validate", p, "-o", "json"],
        ["validate", p, "-o", "github"],
        ["validate", p, "--strict"],
        ["budget", p],
        ["budget", p, "-o", "json"],
        ["show", p],
        ["show", p, "-o", "json"],
        ["secrets", p, "--skip-validation"],
        ["explain", "flink.taskmanager", "--profile", p],
        ["explain", "postgres", "--profile", p],
        ["explain", "aerospike.namespaces", "--profile", p],
        ["explain", "kafka.heap_opts", "--profile", p],
        ["explain", "api", "--profile", p],
        ["explain", "flink", "--profile", p],
        ["explain", "flink.jobmanager.process_size", "--profile", p],
        ["explain", "postgres.shared_buffers", "--profile", p],
        ["explain", "cluster", "--profile", p],
    ]
for variant in (["--set", "security.tls=false"], ["--set", "monitoring.level=full"],
                ["--set", "postgres.replicas=3"], ["--set", "kafka.brokers=5"],
                ["--set", "security.network_policies=true"],
                ["--set", 'postgres.backup={ retention_days = 7, s3 = { url = "s3://b/pg", credentials_secret = "s3" } }']):
    for p in ("demo", "prod"):
        cmds += [["render", p, "--skip-validation", *variant], ["validate", p, "-o", "json", *variant]]
for p in big:
    cmds += [["render", p], ["validate", p, "-o", "json"], ["budget", p, "-o", "json"]]
pairs = [("demo", "prod"), ("prod", "demo"), ("prod", "examples/staging.toml"),
         ("demo", "examples/laptop-16gb.toml"), ("prod", "examples/prod-aws.toml")]
for a, b in pairs:
    cmds += [
        ["diff", a, b], ["diff", a, b, "--fields"], ["diff", a, b, "-o", "json"], ["diff", a, b, "-U", "1"],
        ["migrate", a, b], ["migrate", a, b, "--format", "script"], ["migrate", a, b, "--format", "patches"],
        ["migrate", a, b, "--plan"], ["migrate", a, b, "--plan", "-o", "json"],
        ["migrate", a, b, "--allow-data-loss", "--prune"],
        ["migrate", a, b, "--format", "script", "--allow-data-loss", "--prune"],
        ["migrate", a, b, "--phase", "1"], ["migrate", a, b, "--phase", "2", "--format", "script"],
    ]
cmds += [
    ["diff", "prod", "prod"], ["migrate", "prod", "prod"],
    ["diff", "prod", "prod", "--set", "kafka.brokers=5"], ["migrate", "prod", "prod", "--set", "kafka.brokers=5", "--format", "script"],
    ["validate", "--all", "profiles", "examples", "-o", "json"],
    ["validate", "--all", "profiles", "examples"],
    ["schema"], ["schema", "--partial"],
    ["--help"], ["-h"], ["--version"], ["help"], ["man"],
    ["render", "nosuch"], ["render", bad], ["render", broken], ["validate", bad],
    ["render", "demo", "--set", "kafka.brokers=three"], ["render", "demo", "--set", "kafka.brokerz=3"],
    ["render", "demo", "--out-dir", "x", "-o", "json"], ["diff", "demo"], ["explain", "kafka.brokerz"],
    ["nosuchcommand"], ["render"],
]
for sub in ("render", "validate", "budget", "diff", "migrate", "show", "secrets", "schema", "explain",
            "completions", "man"):
    cmds += [[sub, "--help"], [sub, "-h"]]
for shell in ("bash", "zsh", "fish", "elvish", "powershell"):
    cmds.append(["completions", shell])


def run(binary, args, tag):
    env = dict(os.environ, NO_COLOR="1")
    p = subprocess.run([binary, *args], cwd=repo, capture_output=True, env=env)
    return p.returncode, p.stdout, p.stderr


differences = 0
for args in cmds:
    a = run(old, args, "old")
    b = run(new, args, "new")
    if a != b:
        differences += 1
        what = [n for n, x, y in zip(("exit code", "stdout", "stderr"), a, b) if x != y]
        print(f"DIFFERS ({', '.join(what)}): amctl {' '.join(args)}")

# Piped input: a render read back as a stream.
for p in ("demo", "prod"):
    stream = subprocess.run([old, "render", p], cwd=repo, capture_output=True).stdout
    for binary_args in (["diff", p, "-"], ["diff", "-", p, "--fields"], ["migrate", "demo", "-", "--plan"]):
        outs = [subprocess.run([b, *binary_args], cwd=repo, input=stream, capture_output=True)
                for b in (old, new)]
        cmds.append(binary_args)
        if (outs[0].returncode, outs[0].stdout, outs[0].stderr) != (outs[1].returncode, outs[1].stdout, outs[1].stderr):
            differences += 1
            print(f"DIFFERS: amctl {' '.join(binary_args)} < render {p}")

# --out-dir trees.
for p in profiles + big[:1]:
    trees = []
    for tag, b in (("old", old), ("new", new)):
        d = os.path.join(work, f"tree-{tag}")
        shutil.rmtree(d, ignore_errors=True)
        subprocess.run([b, "render", p, "--skip-validation", "--out-dir", d], cwd=repo, capture_output=True)
        files = {}
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                files[name] = f.read()
        trees.append(files)
    cmds.append(["render", p, "--out-dir"])
    if trees[0] != trees[1]:
        differences += 1
        print(f"DIFFERS: amctl render {p} --out-dir (file names or contents)")

shutil.rmtree(work, ignore_errors=True)
print(f"compare_outputs: {len(cmds)} outputs, {differences} differ")
sys.exit(1 if differences else 0)
