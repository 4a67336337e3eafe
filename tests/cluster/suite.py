"""amctl's renders, read-backs, drains and migrations on a real control plane (tests/cluster/up).

Usage: python3 tests/cluster/suite.py CLUSTER_DIR AMCTL [--only GROUP,...] [--scenario REGEX]
                                      [--parallel N] PROFILE...
Groups: lifecycle (apply, Ready, second apply, read-back, node loss) and migrate. Each test runs
in a namespace of its own on kwok nodes of its own (the PodNodeSelector admission plugin keeps
its pods there), N (default 4) side by side.
Prints `ok ...` / `FAIL ...` lines (tests/conformance.sh counts them); exits 1 on a failure.

What kwok simulates and what it does not: nodes heartbeat and pods become Running and Ready
when scheduled (their init containers count as completed); no container runs, so probes,
`kubectl exec` and the servers themselves are not exercised here (the real-server tests of
tests/conformance.sh are). Everything the API server, the controllers, the scheduler, cert-manager
and the provisioner do is real.
"""

import concurrent.futures
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kube import NODE_SELECTOR, WAITS, Cluster, Failed, option  # noqa: E402

# Warning events no render may cause (the list): a pod that cannot be created, placed,
# mounted, or a workload the controller cannot update.
WARNINGS = ("FailedCreate", "FailedScheduling", "FailedMount", "FailedUpdate", "FailedAttachVolume",
            "ProvisioningFailed", "FailedBinding")
# The scheduler's optimistic-concurrency retry when two pods bind the same new claim at once
# (both mounts of a shared RWO claim): it retries at once and binds; nothing failed.
# FailedScheduling events that say the scheduler waits, not fails (kube.WAITS).
RETRIED = WAITS


class Suite:
    def __init__(self, cluster):
        self.c = cluster
        self.passed = 0
        self.failed = 0
        self.lock = threading.Lock()

    def ok(self, msg):
        with self.lock:
            self.passed += 1
            print(f"ok   {msg}", flush=True)

    def bad(self, msg):
        with self.lock:
            self.failed += 1
            print(f"FAIL {msg}", flush=True)

    def check(self, cond, good, bad):
        (self.ok if cond else self.bad)(good if cond else bad)
        return cond


def slug(profile):
    return re.sub(r"[^a-z0-9-]", "-", os.path.splitext(os.path.basename(profile))[0].lower()).strip("-")[:40]


def warnings(c, ns, since):
    return [(r, o, m) for r, o, m in c.warnings(ns, since) if r in WARNINGS and not RETRIED.search(m)]


def findings(c, profile, *args):
    """amctl validate's findings: (rule, severity) pairs."""
    p = c.amctl("validate", profile, *args, "-o", "json", check=False)
    out = json.loads(p.stdout)
    items = out if isinstance(out, list) else out.get("findings", out.get("profiles", [{}])[0].get("findings", []))
    return [(f.get("rule"), f.get("severity")) for f in items]


def hpa_max(c, ns):
    """Every HPA's target and its maxReplicas."""
    return [(h["spec"]["scaleTargetRef"]["kind"].lower(), h["spec"]["scaleTargetRef"]["name"], h["spec"]["maxReplicas"])
            for h in c.items("hpa", "-n", ns)]


def read_back(c, ns, path):
    """`kubectl get -o yaml` of everything in `ns` a user can list, and the Namespace itself."""
    kinds = [k for k in c.kubectl("api-resources", "--verbs=list", "--namespaced", "-o", "name").stdout.split()]
    live = c.kubectl("get", ",".join(kinds), "-n", ns, "-o", "yaml").stdout
    # The cluster-scoped objects amctl rendered for this installation (its Namespace,
    # PriorityClasses and StorageClass), by the instance label it puts on them.
    scoped = c.kubectl("get", "priorityclass,storageclass", "-l",
                       f"app.kubernetes.io/instance={ns}", "-o", "yaml").stdout
    # The harness's own mark on the namespace (which nodes its pods may use) is not the
    # installation's: it goes, as if the namespace had been made without it.
    ns_obj = json.loads(c.kubectl("get", "namespace", ns, "-o", "json").stdout)
    (ns_obj["metadata"].get("annotations") or {}).pop(NODE_SELECTOR, None)
    ns_obj = json.dumps(ns_obj)
    with open(path, "w") as f:
        for part in (ns_obj, scoped, live):
            f.write(part)
            f.write("\n---\n")
    return path


# ---------------------------------------------------------------- lifecycle
def lifecycle(s, profile, work):
    """secrets, apply (server-side and client-side, either first), Ready, no warning, a second
    apply that changes nothing, read-back diff and prune plan, node loss at the HPA maximum."""
    c = s.c
    name = slug(profile)
    render = c.amctl("render", profile, check=False)
    if render.returncode != 0:
        # The spec-literal examples are invalid on purpose: amctl refuses to render them, and
        # nothing reaches the cluster.
        s.check(render.returncode == 1 and not render.stdout,
                f"[{name}] amctl refuses to render it (exit 1, nothing on stdout): nothing to apply",
                f"[{name}] render exited {render.returncode}: {render.stderr[-300:]}")
        return
    model, zones = c.node_model(profile)
    c.make_nodes(name, model, zones)
    # A profile that renders its own StorageClass runs where none of that name exists yet.
    classes = [o for o in json.loads(c.amctl("render", profile, "-o", "json").stdout)["items"]
               if o["kind"] == "StorageClass"]
    saved = []
    for sc in classes:
        have = c.kubectl("get", "storageclass", sc["metadata"]["name"], "-o", "json", check=False)
        if have.returncode == 0:
            saved.append(json.loads(have.stdout))
            c.kubectl("delete", "storageclass", sc["metadata"]["name"])
    try:
        # Each manager first, each in a namespace of its own on the profile's nodes, one after
        # the other (the nodes hold one installation).
        for how in ("server-side", "client-side"):
            ns = f"{name}-{'ssa' if how == 'server-side' else 'csa'}"
            try:
                c.confine(ns, name)
                apply_and_read_back(s, profile, ns, how, work)
                if how == "server-side":
                    node_loss(s, profile, ns, name)
            finally:
                delete_namespace(c, ns)
                # The installation's cluster-scoped objects go with it.
                c.kubectl("delete", "priorityclass,storageclass", "-l", f"app.kubernetes.io/instance={ns}",
                          "--ignore-not-found")
                # The next installation starts on empty nodes: every pod of this one gone.
                c.wait(f"the pods of {ns} gone", 180, lambda: not [
                    p for p in c.items("pods", "-n", ns)])
    finally:
        c.remove_nodes(name)
        for sc in classes:
            c.kubectl("delete", "storageclass", sc["metadata"]["name"], "--ignore-not-found")
        for sc in saved:
            for k in ("uid", "resourceVersion", "creationTimestamp", "managedFields"):
                sc["metadata"].pop(k, None)
            c.kubectl("create", "-f", "-", input=json.dumps(sc))


def delete_namespace(c, ns):
    c.kubectl("delete", "namespace", ns, "--ignore-not-found", "--timeout=120s", check=False)


def run_cronjobs(c, ns):
    """A claim only a CronJob mounts binds at its first run (WaitForFirstConsumer): each CronJob
    runs once now, as its schedule would, and its Job must complete."""
    for cj in c.items("cronjobs", "-n", ns):
        job = f"{cj['metadata']['name'][:40]}-amctl-test-{int(time.time()) % 100000}"
        c.kubectl("create", "job", job, f"--from=cronjob/{cj['metadata']['name']}", "-n", ns)
        c.kubectl("wait", "--for=condition=Complete", f"job/{job}", "-n", ns, "--timeout=120s")


def apply_cmd(how):
    return ["apply", "--server-side", "-f", "-"] if how == "server-side" else ["apply", "-f", "-"]


def apply_and_read_back(s, profile, ns, how, work):
    c = s.c
    name = slug(profile)
    tag = f"[{name} {how}]"
    since = c.resource_version()
    # secrets: everything the pods mount, created once; a second run changes nothing.
    script = c.amctl("secrets", profile, "-n", ns).stdout
    env = dict(c.env)
    first = c.run(["bash", "-c", script], check=False, env=env)
    if first.returncode != 0 and "set these environment variables" in first.stderr:
        # Values only the user has (S3 credentials, a feature key): the script names them and
        # creates nothing until they are set; a user sets them and runs it again.
        for var in re.findall(r"^  ([A-Z][A-Z0-9_]*): ", first.stderr, re.M):
            env[var] = f"amctl-test-{var.lower()}"
        s.check(not c.items("secrets", "-n", ns),
                f"{tag} `amctl secrets | bash` without the values only the user has: names them, creates nothing",
                f"{tag} `amctl secrets | bash` created Secrets before stopping for missing values")
        first = c.run(["bash", "-c", script], env=env)
    elif first.returncode != 0:
        raise Failed(f"`amctl secrets | bash` exited {first.returncode}: {first.stderr[-500:]}")
    before = {x["metadata"]["name"]: x["metadata"]["resourceVersion"] for x in c.items("secrets", "-n", ns)}
    again = c.run(["bash", "-c", script], env=env)
    after = {x["metadata"]["name"]: x["metadata"]["resourceVersion"] for x in c.items("secrets", "-n", ns)}
    s.check(before == after and "created" not in again.stdout,
            f"{tag} `amctl secrets | bash` created {len(before)} Secret(s); run twice, the second run changes nothing",
            f"{tag} the second `amctl secrets | bash` changed Secrets: {again.stdout[-300:]}")
    stream = c.amctl("render", profile, "-n", ns).stdout
    p = c.kubectl(*apply_cmd(how), input=stream, check=False)
    s.check(p.returncode == 0 and not p.stderr.strip(),
            f"{tag} `amctl render | kubectl apply` exits 0 with nothing on stderr ({p.stdout.count(chr(10))} objects)",
            f"{tag} `amctl render | kubectl apply` exited {p.returncode}: {p.stderr.strip()[-800:]}")
    try:
        c.wait_ready(ns)
        s.ok(f"{tag} every StatefulSet and Deployment Ready, every mounted claim Bound, every Certificate Ready")
    except Failed as e:
        s.bad(f"{tag} {e}")
    warned = warnings(c, ns, since)
    s.check(not warned, f"{tag} no Warning event ({', '.join(WARNINGS[:4])}, ...)",
            f"{tag} Warning events: " + "; ".join(f"{r} {o}: {m[:200]}" for r, o, m in warned[:5]))
    # A second apply, by either manager, changes nothing.
    d = c.kubectl("diff", "--server-side", "-f", "-", input=stream, check=False)
    conflicts = re.findall(r"conflict with \"kubectl-client-side-apply\"[^:]*: (\S+)", d.stderr)
    if how == "client-side" and c.minor() < 33 and d.returncode != 0 and set(conflicts) == {".spec.volumeClaimTemplates"}:
        # Kubernetes before v1.33 hands a claim template back with a zero creationTimestamp
        # (null) that no manifest has, and volumeClaimTemplates is an atomic list: the first
        # server-side apply after a client-side one conflicts on it, whatever the manifest
        # (writing the null in breaks v1.33+ instead). README "Kubernetes versions" says to
        # take the field over once with --force-conflicts; that it changes nothing else:
        forced = c.kubectl("diff", "--server-side", "--force-conflicts", "-f", "-", input=stream, check=False)
        s.check(forced.returncode == 0,
                f"{tag} a second apply is a no-op: on Kubernetes 1.{c.minor()} only the StatefulSets' claim templates "
                "conflict (the zero creationTimestamp older servers return), and with --force-conflicts nothing changes",
                f"{tag} `kubectl diff --server-side --force-conflicts` after the {how} apply exits {forced.returncode}: "
                f"{(forced.stdout + forced.stderr)[-1500:]}")
    else:
        s.check(d.returncode == 0, f"{tag} a second apply is a no-op: `kubectl diff --server-side` of the same stream exits 0",
                f"{tag} `kubectl diff --server-side` after the {how} apply exits {d.returncode}: {(d.stdout + d.stderr)[-1500:]}")
    # read-back: amctl sees no difference between the namespace and the profile.
    live = read_back(c, ns, os.path.join(work, f"live-{ns}.yaml"))
    d = c.amctl("diff", live, profile, "-n", ns, check=False)
    s.check(d.returncode == 0 and json.loads(c.amctl("diff", live, profile, "-n", ns, "-o", "json").stdout)["summary"] | {"impact": "none"} == {"changed": 0, "added": 0, "removed": 0, "impact": "none"},
            f"{tag} `amctl diff LIVE {profile}` of `kubectl get -o yaml` of the namespace: no difference",
            f"{tag} `amctl diff LIVE {profile}` exits {d.returncode}: {(d.stdout + d.stderr)[:1500]}")
    m = c.amctl("migrate", live, profile, "-n", ns, "--prune", "-o", "json", check=False)
    rendered = {(o["kind"], o["metadata"]["name"]) for o in json.loads(c.amctl("render", profile, "-n", ns, "-o", "json").stdout)["items"]}
    try:
        steps = json.loads(m.stdout)["steps"]
    except (ValueError, KeyError):
        steps = None
    foreign = [st["object"] for st in steps or [] if (st["object"]["kind"], st["object"]["name"]) not in rendered]
    s.check(m.returncode == 0 and steps == [],
            f"{tag} `amctl migrate LIVE {profile} --prune` plans nothing",
            f"{tag} `amctl migrate LIVE {profile} --prune` exits {m.returncode} and plans: "
            + "; ".join(f"{st['action']} {st['object']['kind']}/{st['object']['name']}: {st['reason'][:120]}" for st in (steps or [])[:8])
            + (m.stderr[-300:] if steps is None else ""))
    s.check(not foreign, f"{tag} the prune plan names no object amctl did not render",
            f"{tag} the prune plan names objects amctl did not render: {foreign[:5]}")


# ---------------------------------------------------------------- node loss
def layout(c, ns, profile, pool):
    """Prints where the real scheduler put each pod beside where amctl's model did (to read
    when the two disagree)."""
    model = json.loads(c.amctl("budget", profile, "-n", ns, "-o", "json").stdout)["placement"]["nodes"]
    real = {}
    for p in c.items("pods", "-n", ns):
        node = p["spec"].get("nodeName")
        if node and p["status"].get("phase") == "Running":
            real.setdefault(int(node.rsplit("-", 1)[1]), []).append(p["metadata"]["name"])
    for i, n in enumerate(model):
        def short(names):
            out = {}
            for x in names:
                base = re.sub(r"(-[a-z0-9]{8,10}-[a-z0-9]{5}|#\d+)$", "", x)
                out[base] = out.get(base, 0) + 1
            return " ".join(f"{k}{'×' + str(v) if v > 1 else ''}" for k, v in sorted(out.items()))
        print(f"       node {pool}-{i}: model [{short([p['name'] for p in n['pods']])}] real [{short(real.get(i, []))}]", flush=True)


def node_loss(s, profile, ns, pool):
    """At the HPA maximum, each node drained in turn (then uncordoned): every drain completes
    and every evicted pod is Ready again on the remaining nodes, unless amctl warned
    placement.n-1; the two must agree."""
    c = s.c
    name = slug(profile)
    for kind, target, top in hpa_max(c, ns):
        c.kubectl("scale", f"{kind}/{target}", f"--replicas={top}", "-n", ns)
    try:
        c.wait_ready(ns)
        # The CronJobs' runs, at the peak: each must find room, and its claim binds.
        run_cronjobs(c, ns)
        c.wait_ready(ns)
    except Failed as e:
        s.bad(f"[{name}] at the HPA maximum: {e}")
        return
    s.ok(f"[{name}] at the HPA maximum every pod Ready, each CronJob run to completion, every claim Bound")
    layout(c, ns, profile, pool)
    warned = any(rule in ("placement.n-1", "placement.n-1-pinned") for rule, _ in findings(c, profile))
    nodes = [n["metadata"]["name"] for n in c.items("nodes", "-l", f"amctl.test/pool={pool}")]
    if len(nodes) == 1:
        # One node: nothing can move; what must hold is that no PodDisruptionBudget blocks the
        # drain (a budget on a single replica would, zegl/kube-score#376).
        p = c.kubectl("drain", nodes[0], "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s", check=False)
        s.check(p.returncode == 0, f"[{name}] the single node drains (no PodDisruptionBudget blocks it)",
                f"[{name}] draining the single node failed: {p.stderr.strip()[-400:]}")
        c.kubectl("uncordon", nodes[0])
        try:
            c.wait_ready(ns)
            s.ok(f"[{name}] uncordoned, every pod is Ready again")
        except Failed as e:
            s.bad(f"[{name}] after uncordoning the single node: {e}")
        return
    lost = []
    start = time.monotonic()
    for node in nodes:
        p = c.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s", check=False)
        if p.returncode != 0:
            blocked = [f"{b['metadata']['name']} ({b.get('status', {}).get('currentHealthy')}/{b.get('status', {}).get('expectedPods')} healthy)"
                       for b in c.items("pdb", "-n", ns) if b.get("status", {}).get("disruptionsAllowed", 1) == 0]
            lost.append(f"drain of {node} did not complete: {p.stderr.strip()[-300:]}; budgets allowing no disruption: {blocked}; {c.pending_reasons(ns)}")
        else:
            try:
                c.wait_ready(ns, timeout=90)
            except Failed as e:
                lost.append(f"after draining {node}: {e}")
        c.kubectl("uncordon", node)
        try:
            c.wait_ready(ns, timeout=120)
        except Failed as e:
            lost.append(f"after uncordoning {node}: {e}")
            break
    took = time.monotonic() - start
    survived = not lost
    s.check(survived != warned,
            f"[{name}] {len(nodes)} nodes drained in turn at the HPA maximum ({took:.0f} s): "
            + ("every drain completed and every pod was Ready again" if survived else f"the loss is not survived, as amctl warned (placement.n-1): {lost[0][:300]}"),
            f"[{name}] node loss: amctl {'warned' if warned else 'did not warn'} placement.n-1, but "
            + ("every drain succeeded" if survived else "; ".join(lost)[:1500]))


# ---------------------------------------------------------------- migrate
# Every migrate scenario of tests/conformance.sh: (tag, FROM, TO, amctl flags). FROM `@old-labels`
# is prod as rendered before the claim templates lost their version label.
SCENARIOS = [
    ("demo -> prod", "demo", "prod", ["--allow-data-loss"]),
    ("prod -> demo", "prod", "demo", ["--allow-data-loss"]),
    ("prod -> staging", "prod", "examples/staging.toml", []),
    ("demo -> laptop-16gb", "demo", "examples/laptop-16gb.toml", ["--allow-data-loss"]),
    ("postgres minor", "prod", "prod", ["--set", 'postgres.image="postgres:17.7"']),
    ("postgres major", "prod", "prod", ["--set", 'postgres.image="postgres:18.1"', "--allow-data-migration"]),
    ("kafka upgrade", "prod", "prod", ["--set", 'kafka.image="apache/kafka:4.2.0"', "--allow-data-migration"]),
    ("kafka scale-out", "prod", "prod", ["--set", "kafka.brokers=5", "--set", "cluster.nodes=12"]),
    ("kafka scale-in", "prod", "prod", ["--from-set", "kafka.brokers=5", "--from-set", "cluster.nodes=12"]),
    ("aerospike scale-out", "prod", "prod", ["--set", "aerospike.replicas=4", "--set", "cluster.nodes=12"]),
    ("aerospike scale-in", "prod", "prod", ["--from-set", "aerospike.replicas=4", "--from-set", "cluster.nodes=12"]),
    ("aerospike upgrade", "prod", "prod", ["--set", 'aerospike.image="aerospike/aerospike-server:8.1.0.0"']),
    ("flink upgrade", "prod", "prod", ["--set", 'flink.image="flink:2.2.0-scala_2.12-java17"']),
    ("nodes up", "prod", "prod", ["--set", "cluster.nodes=12"]),
    ("nodes down", "prod", "prod", ["--from-set", "cluster.nodes=12"]),
    ("claim grow", "prod", "prod", ["--set", "postgres.backup.volume.size=3Ti"]),
    ("claim template grow", "prod", "prod", ["--set", "kafka.storage.size=1Ti"]),
    ("storage class change", "prod", "prod", ["--set", "storage.class=standard"]),
    ("old-label claims", "@old-labels", "prod", []),
]

# What runs inside a pod (`kubectl exec`) cannot run under kwok: the shim records it, and each
# command is named with the test where the real server runs that same command, by the
# container it runs in (or why none can).
EXEC_COVERED_BY = {
    "postgres": "tests/postgres.sh (the minor upgrade's standby gate, the plan's own command, on a real "
                "streaming 17.6 standby) and tests/pg_upgrade.sh (every major-upgrade command, against real "
                "17.6 and 18.1)",
    "jobmanager": "tests/flink.sh (the upgrade's stop-with-savepoint, the plan's own command, against a real "
                  "Flink 2.1.1 job, which then resumes from the savepoint)",
    "kafka": "none yet: the brokers run for real with issue 29",
    "aerospike": "none can: no registry serves the Aerospike server (restated in tests/it/startup.rs)",
}


def side_args(flags, which):
    """The --set (TO) or --from-set (FROM) of a scenario's flags, as --set for render."""
    out = []
    for i, f in enumerate(flags):
        if f == which:
            out += ["--set", flags[i + 1]]
    return out


def shim_dir(c):
    """A `kubectl` first on PATH that records `kubectl exec` (and its stdin) and runs the
    release's kubectl for everything else."""
    d = os.path.join(c.dir, "shim")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "kubectl")
    text = f"""#!/usr/bin/env bash
# kubectl for migration scripts on a kwok cluster: `kubectl exec` is recorded, not run.
for a in "$@"; do
  case $a in
    exec) printf '%s\\0' "$@" > "${{AMCTL_EXEC_LOG:?}}/$(date +%s%N)"; cat > /dev/null; exit 0 ;;
    -*) ;;
    *) break ;;
  esac
done
exec {c.kubectl_bin} "$@"
"""
    # Written once: tests side by side run it while others would rewrite it.
    if not os.path.exists(path) or open(path).read() != text:
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.chmod(path + ".tmp", 0o755)
        os.replace(path + ".tmp", path)
    return d


def claims(c, ns):
    """Claims and the volume each is bound to; a pod's generic ephemeral claims, which go with
    their pod by design, left out."""
    return {x["metadata"]["name"]: x["spec"].get("volumeName") for x in c.items("pvc", "-n", ns)
            if not any(o.get("kind") == "Pod" for o in x["metadata"].get("ownerReferences", []))}


def migrate(s, tag, frm, to, flags, work):
    c = s.c
    ns = "mig-" + slug(tag)
    to_sets = side_args(flags, "--set")
    from_sets = side_args(flags, "--from-set")
    plan_flags = [f for f in flags]
    pools = []
    try:
        # The nodes of both sides (a cluster grows before a migration that needs it).
        base = "prod" if frm.startswith("@") else frm
        # One cluster holds both: a side without zones (a laptop profile) gets the other's.
        sides = [c.node_model(p, *sets) for p, sets in ((base, from_sets), (to, to_sets))]
        any_zones = next((z for _, z in sides if z), [])
        for i, (p, sets) in enumerate(((base, from_sets), (to, to_sets))):
            model, zones = sides[i]
            zones = zones or any_zones
            pool = f"{ns[:30]}-{i}"
            if i == 1 and pools:
                have = len(c.items("nodes", "-l", f"amctl.test/pool={pools[0]}"))
                first_model = c.node_model(base, *from_sets)[0]
                if first_model["capacity"] == model["capacity"] and first_model["allocatable"] == model["allocatable"]:
                    extra = model["nodes"] - have
                    if extra > 0:
                        c.make_nodes(pool, model, zones, count=extra, offset=have, group=ns)
                        pools.append(pool)
                    continue
            c.make_nodes(pool, model, zones, group=ns)
            pools.append(pool)
        c.confine(ns, ns)
        # FROM, applied as amctl's own scripts apply (client-side) and Ready.
        env = secrets_env(c, base if not frm.startswith("@") else "prod", ns, from_sets)
        if frm == "@old-labels":
            objs = json.loads(c.amctl("render", "prod", "-n", ns, "-o", "json").stdout)
            for o in objs["items"]:
                if o["kind"] == "StatefulSet":
                    version = o["metadata"]["labels"].get("app.kubernetes.io/version")
                    for t in o["spec"].get("volumeClaimTemplates", []):
                        t["metadata"]["labels"]["app.kubernetes.io/version"] = version
            c.kubectl("apply", "-f", "-", input=json.dumps(objs))
        else:
            c.kubectl("apply", "-f", "-", input=c.amctl("render", frm, "-n", ns, *from_sets).stdout)
        c.wait_ready(ns)
        secrets_env(c, to, ns, to_sets, env)
        before = claims(c, ns)
        source = frm
        if frm.startswith("@"):
            source = read_back(c, ns, os.path.join(work, f"live-{ns}.yaml"))
        plan = c.amctl("migrate", source, to, "-n", ns, *plan_flags, "-o", "json", check=False)
        if plan.returncode not in (0, 3):
            s.bad(f"[migrate {tag}] amctl migrate exited {plan.returncode}: {plan.stderr[-500:]}")
            return
        steps = json.loads(plan.stdout)["steps"]
        script = c.amctl("migrate", source, to, "-n", ns, *plan_flags, "--format", "script", check=False).stdout
        log = os.path.join(work, f"exec-{ns}")
        os.makedirs(log, exist_ok=True)
        for old_record in os.listdir(log):
            os.remove(os.path.join(log, old_record))
        env = dict(env)
        env["PATH"] = shim_dir(c) + os.pathsep + env["PATH"]
        env["AMCTL_EXEC_LOG"] = log
        start = time.monotonic()
        with open(os.path.join(work, f"script-{ns}.sh"), "w") as f:
            f.write(script)
        run = c.run(["bash", os.path.join(work, f"script-{ns}.sh")], check=False, env=env, timeout=900)
        took = time.monotonic() - start
        if not s.check(run.returncode == 0,
                       f"[migrate {tag}] the plan's script ({len(steps)} steps) exits 0 in {took:.0f} s",
                       f"[migrate {tag}] the plan's script exited {run.returncode} after {took:.0f} s: {(run.stdout[-600:] + run.stderr[-900:])}"):
            return
        try:
            run_cronjobs(c, ns)
            c.wait_ready(ns, timeout=120)
            s.ok(f"[migrate {tag}] afterwards every workload Ready, every claim Bound, every Certificate Ready")
        except Failed as e:
            s.bad(f"[migrate {tag}] afterwards: {e}")
        after = claims(c, ns)
        gone = sorted(set(before) - set(after))
        moved = sorted(n for n in before if n in after and before[n] and after[n] != before[n])
        s.check(not gone and not moved,
                f"[migrate {tag}] no claim deleted ({len(before)} before, {len(after)} after), each still bound to its volume",
                f"[migrate {tag}] claims deleted: {gone}; bound to another volume: {moved}")
        # What the plan leaves (refused, kept, or not in TO) may still differ; nothing else.
        left = {(st["object"]["kind"], st["object"]["name"]) for st in steps
                if st.get("refused") or st["action"] == "keep"}
        live = read_back(c, ns, os.path.join(work, f"after-{ns}.yaml"))
        d = json.loads(c.amctl("diff", live, to, "-n", ns, *to_sets, "-o", "json", check=False).stdout)
        extra = [f"{o['kind']}/{o['name']} ({o['status']})" for o in d.get("objects", [])
                 if (o["kind"], o["name"]) not in left]
        s.check(not extra,
                f"[migrate {tag}] `amctl diff LIVE TO` is empty but for the {len(left)} object(s) the plan leaves",
                f"[migrate {tag}] `amctl diff LIVE TO` still differs where the plan said nothing: {extra[:8]}")
        # A step refused because the API server refuses it: the real server refuses it too.
        for st in steps:
            if st.get("refused") and st.get("opt_in") is None and st.get("manifest") and \
                    "API server refuses" in (st.get("data_risk") or "") + st.get("reason", ""):
                dry = c.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(st["manifest"]), check=False)
                s.check(dry.returncode != 0,
                        f"[migrate {tag}] refused {st['object']['kind']}/{st['object']['name']}: the API server refuses it too ({dry.stderr.strip().splitlines()[-1][:160] if dry.stderr.strip() else ''})",
                        f"[migrate {tag}] amctl refused {st['object']['kind']}/{st['object']['name']} as the API server's refusal, but `kubectl apply --dry-run=server` takes it")
        # The installation stays manageable by server-side apply (GitOps) after amctl's script.
        objs = json.loads(c.amctl("render", to, "-n", ns, *to_sets, "-o", "json").stdout)
        objs["items"] = [o for o in objs["items"] if (o["kind"], o["metadata"]["name"]) not in left]
        ssa = c.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=json.dumps(objs), check=False)
        s.check(ssa.returncode == 0,
                f"[migrate {tag}] after the script, a server-side apply of TO (but what the plan leaves) has no conflict",
                f"[migrate {tag}] after the script, a server-side apply of TO fails: {ssa.stderr.strip()[-600:]}")
        execs = [open(os.path.join(log, r)).read().rstrip("\0").split("\0") for r in sorted(os.listdir(log))]
        with open(os.path.join(work, "exec-commands.txt"), "a") as f:
            for e in execs:
                f.write(f"{tag}\t{json.dumps(e)}\n")
        container = lambda e: e[e.index("-c") + 1] if "-c" in e else None  # noqa: E731
        uncovered = [" ".join(e)[:200] for e in execs if container(e) not in EXEC_COVERED_BY]
        by = sorted({EXEC_COVERED_BY[container(e)] for e in execs if container(e) in EXEC_COVERED_BY})
        s.check(not uncovered,
                f"[migrate {tag}] {len(execs)} `kubectl exec` step(s) recorded" + (f"; covered by: {'; '.join(by)}" if by else ""),
                f"[migrate {tag}] `kubectl exec` steps no test covers: {uncovered[:3]}")
    except Failed as e:
        s.bad(f"[migrate {tag}] {e}")
    finally:
        delete_namespace(c, ns)
        for pool in pools:
            c.remove_nodes(pool)


def secrets_env(c, profile, ns, sets, env=None):
    """Runs `amctl secrets` for `profile` in `ns`, with test values for what only a user has."""
    env = dict(env or c.env)
    script = c.amctl("secrets", profile, "-n", ns, *sets).stdout
    p = c.run(["bash", "-c", script], check=False, env=env)
    if p.returncode != 0 and "set these environment variables" in p.stderr:
        for var in re.findall(r"^  ([A-Z][A-Z0-9_]*): ", p.stderr, re.M):
            env[var] = f"amctl-test-{var.lower()}"
        c.run(["bash", "-c", script], env=env)
    elif p.returncode != 0:
        raise Failed(f"`amctl secrets {profile} | bash` exited {p.returncode}: {p.stderr[-400:]}")
    return env


def main(argv):
    args = argv[1:]
    only = option(args, "--only", None, lambda v: set(v.split(",")))
    scenario_filter = option(args, "--scenario", None)
    parallel = option(args, "--parallel", 4, int)
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cluster_dir, amctl, profiles = args[0], os.path.abspath(args[1]), args[2:]
    s = Suite(Cluster(cluster_dir, amctl))
    work = os.path.join(s.c.dir, "work")
    os.makedirs(work, exist_ok=True)
    shim_dir(s.c)
    # Each test in a namespace of its own on nodes of its own, side by side; a profile that
    # renders its own StorageClass (cluster-wide, by name) runs alone afterwards.
    side_by_side, alone = [], []

    def life(p):
        def run():
            try:
                lifecycle(s, p, work)
            except Failed as e:
                s.bad(f"[{slug(p)}] {e}")
        return run
    if only is None or "lifecycle" in only:
        for p in profiles:
            r = s.c.amctl("render", p, "-o", "json", check=False)
            own_class = r.returncode == 0 and any(o["kind"] == "StorageClass" for o in json.loads(r.stdout)["items"])
            (alone if own_class else side_by_side).append(life(p))
    if only is None or "migrate" in only:
        for tag, frm, to, flags in SCENARIOS:
            if scenario_filter and not re.search(scenario_filter, tag):
                continue
            side_by_side.append(lambda t=(tag, frm, to, flags): migrate(s, *t, work))
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(lambda f: f(), side_by_side))
    for f in alone:
        f()
    print(f"cluster suite: {s.passed} passed, {s.failed} failed in {time.monotonic() - start:.0f} s "
          f"({parallel} side by side)", flush=True)
    return 1 if s.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
