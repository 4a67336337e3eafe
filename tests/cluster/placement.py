"""amctl's placement verdicts against the real scheduler, over generated cases.

Usage: python3 tests/cluster/placement.py CLUSTER_DIR AMCTL [CASES] [--seed N] [--parallel N]

Each case is a profile (prod or staging, with generated node count and size, zones, volume
topology, priority classes, replica counts and HPA ceilings) and the cluster of that shape.
amctl says, from `amctl budget -o json`:
  - placed: every pod finds a node (render, HPAs at their maximum, a CronJob run);
  - n-1:    every node drained in turn (each uncordoned before the next) leaves every pod placed
            again: holds, fails, or marginal (it depends on how the scheduler breaks ties).
The real scheduler is then put through the same on kwok nodes of that shape, each case in a
namespace whose pods the PodNodeSelector admission plugin keeps on the case's own nodes, so
cases run side by side. A definite verdict must equal what the real cluster did; a marginal
one may go either way (the scheduler picks at random among equally scored nodes:
pkg/scheduler/schedule_one.go selectHost). Prints `ok`/`FAIL` lines; exits 1 on a disagreement.
"""

import concurrent.futures
import json
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kube import POOL, WAITS, Cluster, Failed, option  # noqa: E402

# Objects the scheduler acts on; the rest (config, policies, monitors, certificates) cannot
# change where a pod goes, and leaving them out makes a case quick.
SCHEDULING_KINDS = {"Namespace", "PriorityClass", "StorageClass", "ServiceAccount", "Service", "PersistentVolumeClaim",
                    "StatefulSet", "Deployment", "Job", "CronJob", "PodDisruptionBudget"}


def generate(rng, i):
    """One case: (base profile, --set arguments)."""
    base = rng.choice(["prod", "examples/staging.toml"])
    nodes = rng.randint(2, 6)
    mem = rng.choice([24, 32, 48, 64, 96, 128])
    cpu = rng.choice([8, 12, 16, 32])
    zones = rng.choice([0, 1, 2, 3, 3])
    topology = rng.choice(["zone", "zone", "any", "node"])
    if topology == "zone":
        # Zonal disks come with zone labels on every node (one zone at least).
        zones = max(zones, 1)
    sets = [
        f"cluster.nodes={nodes}",
        f'cluster.node_memory="{mem}Gi"',
        f'cluster.node_cpu="{cpu}"',
        "cluster.zones=[" + ",".join(f'"zone-{chr(97 + z)}"' for z in range(zones)) + "]",
        # The topology amctl assumes, and (below) a class of the test cluster that gives it.
        f'storage.topology="{topology}"',

        f"cluster.priority_classes={rng.choice(['true', 'true', 'false'])}",
        f"api.autoscaling.max_replicas={rng.randint(3, 12)}",
        f"flink.taskmanager.replicas={rng.randint(1, 6)}",
        f"aerospike.replicas={rng.randint(1, min(3, nodes))}",
        f"kafka.brokers={rng.choice([1, 3]) if nodes >= 3 else 1}",
        f"postgres.replicas={rng.randint(1, 2)}",
    ]
    sets.append('storage.class="' + {"zone": "fast-ssd", "any": "shared-fs", "node": "local-path"}[topology] + '"')
    if "kafka.brokers=1" in sets:
        # One broker: replication factors and min ISR as a single broker needs them.
        sets += ["kafka.default_replication_factor=1", "kafka.min_insync_replicas=1",
                 "kafka.offsets_topic_replication_factor=1", "kafka.transaction_state_log_replication_factor=1",
                 "kafka.transaction_state_log_min_isr=1"]
    return base, sets


def model(c, base, sets):
    args = [a for s in sets for a in ("--set", s)]
    p = c.amctl("budget", base, *args, "-o", "json", check=False)
    if p.returncode not in (0, 1):
        return None
    try:
        b = json.loads(p.stdout)
    except ValueError:
        return None
    placed = not b["placement"]["unschedulable"]
    drains = b["drains"] or {}
    # A drain fails for the real cluster whether pods lack room or can only wait for their node.
    n1 = "fails" if drains.get("pinned") else drains.get("verdict")
    return {
        "placed": "marginal" if b["placement"].get("marginal") else placed,
        "n-1": n1 if placed else None,
        "node": b["node"],
        "pods": sum(line["replicas"] for line in b["components"]),
    }


class Case:
    def __init__(self, c, n, base, sets, run_id=0):
        self.c, self.n, self.base, self.sets = c, n, base, sets
        self.ns = f"case-{run_id}-{n}"
        self.args = [a for s in sets for a in ("--set", s)]

    def settle(self, timeout=180, quiet=5):
        """Until every pod of the namespace runs (True), or pods the scheduler calls
        Unschedulable stay so with nothing changing for `quiet` seconds (False). Anything else
        past `timeout` is the harness's failure, not a verdict."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            pods = self.c.items("pods", "-n", self.ns)
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            state = sorted((p["metadata"]["name"], p["spec"].get("nodeName", ""), p["status"].get("phase"))
                           for p in live)
            unschedulable = [p for p in live if not p["spec"].get("nodeName") and any(
                x["type"] == "PodScheduled" and x.get("reason") == "Unschedulable"
                and not WAITS.search(x.get("message", ""))
                for x in p["status"].get("conditions", []))]
            waiting = [p for p in live if p["status"].get("phase") == "Pending"]
            if not waiting and self.expected():
                return True
            if state != last:
                last, since = state, time.monotonic()
            elif unschedulable and time.monotonic() - since > quiet:
                return False
            time.sleep(1)
        raise Failed(f"{self.ns} neither settled nor stuck in {timeout} s: {self.c.pending_reasons(self.ns)[:300]}")

    def expected(self):
        """Every workload has as many pods as it wants (a StatefulSet's come one at a time)."""
        for kind in ("statefulsets", "deployments"):
            for w in self.c.items(kind, "-n", self.ns):
                st = w.get("status", {})
                want = w["spec"].get("replicas", 1)
                if st.get("readyReplicas", 0) < want or st.get("replicas", 0) != want:
                    return False
        return True

    def run(self):
        c = self.c
        pool = self.ns
        node, _ = c.node_model(self.base, *self.args)
        zones = json.loads(c.amctl("show", self.base, *self.args, "-o", "json").stdout)["cluster"]["zones"]
        c.make_nodes(pool, node, zones)
        c.confine(self.ns, pool)
        render = json.loads(c.amctl("render", self.base, *self.args, "-n", self.ns, "--skip-validation", "-o", "json").stdout)
        render["items"] = [o for o in render["items"] if o["kind"] in SCHEDULING_KINDS and o["kind"] != "Namespace"]
        hpas = [(h["spec"]["scaleTargetRef"]["kind"].lower(), h["spec"]["scaleTargetRef"]["name"],
                 h["spec"].get("minReplicas", 1), h["spec"]["maxReplicas"])
                for h in json.loads(c.amctl("render", self.base, *self.args, "-n", self.ns, "--skip-validation", "-o", "json").stdout)["items"]
                if h["kind"] == "HorizontalPodAutoscaler"]
        c.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(render))
        # What the HPA controller does at once (it does not run here: no metrics): its target
        # at minReplicas.
        for kind, name, low, _ in hpas:
            c.kubectl("scale", f"{kind}/{name}", f"--replicas={low}", "-n", self.ns)
        placed = self.settle()
        if placed:
            for kind, name, _, top in hpas:
                c.kubectl("scale", f"{kind}/{name}", f"--replicas={top}", "-n", self.ns)
            placed = self.settle()
        if placed:
            for cj in c.items("cronjobs", "-n", self.ns):
                c.kubectl("create", "job", f"{cj['metadata']['name'][:30]}-run", f"--from=cronjob/{cj['metadata']['name']}", "-n", self.ns)
            placed = self.settle() and self.jobs_done()
        if not placed:
            self.why = f"not placed: {c.pending_reasons(self.ns)[:400]}"
        drains = None
        if placed and node["nodes"] > 1:
            drains = "holds"
            names = sorted((n["metadata"]["name"] for n in c.items("nodes", "-l", f"{POOL}={pool}")),
                           key=lambda x: int(x.rsplit("-", 1)[1]))
            for n in names:
                ok, why = self.drain(n)
                c.kubectl("uncordon", n)
                if not ok:
                    drains = "fails"
                    self.why = f"drain of {n}: {why}"
                    break
        return placed, drains

    def drain(self, node, timeout=240):
        """`kubectl drain`, retried while it is only slow: it fails for real when pods the
        scheduler calls Unschedulable block it (a budget then refuses the next eviction)."""
        deadline = time.monotonic() + timeout
        while True:
            p = self.c.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=30s",
                               "--skip-wait-for-delete-timeout=1", check=False)
            if p.returncode == 0:
                return self.settle(), self.c.pending_reasons(self.ns)[:300]
            if self.c.unschedulable(self.ns):
                return False, f"{p.stderr.strip()[-200:]} {self.c.pending_reasons(self.ns)[:300]}"
            if time.monotonic() > deadline:
                raise Failed(f"drain of {node} neither completed nor got stuck in {timeout} s: {p.stderr.strip()[-300:]}")

    def jobs_done(self):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            jobs = self.c.items("jobs", "-n", self.ns)
            if all(j.get("status", {}).get("succeeded", 0) >= 1 for j in jobs):
                return True
            time.sleep(0.5)
        raise Failed(f"{self.ns}: a Job did not complete in 120 s")

    def clean(self):
        self.c.kubectl("delete", "namespace", self.ns, "--wait=false", check=False)
        self.c.kubectl("delete", "priorityclass", "-l", f"app.kubernetes.io/instance={self.ns}", "--ignore-not-found", check=False)
        self.c.remove_nodes(self.ns)


def main(argv):
    args = argv[1:]
    seed = option(args, "--seed", random.randrange(1 << 30), int)
    parallel = option(args, "--parallel", 8, int)
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    c = Cluster(args[0], os.path.abspath(args[1]))
    want = int(args[2]) if len(args) > 2 else 200
    rng = random.Random(seed)
    print(f"placement: seed {seed} (AMCTL_PLACEMENT_SEED or --seed {seed} replays it)", flush=True)
    lock = threading.Lock()
    tally = {"cases": 0, "agree": 0, "marginal": 0, "disagree": 0, "skipped": 0,
             "placed": [0, 0], "n-1": [0, 0]}

    def one(n):
        base, sets = generate(rng_for(n), n)
        m = model(c, base, sets)
        if m is None or m["pods"] > 150:
            with lock:
                tally["skipped"] += 1
            return
        case = Case(c, n, base, sets, seed % 100000)
        try:
            placed, drains = case.run()
        except Failed as e:
            with lock:
                tally["disagree"] += 1
            print(f"FAIL placement case {n} ({base} {' '.join(sets)}): the harness failed: {e}", flush=True)
            return
        finally:
            case.clean()
        lines = []
        bad = False
        for verdict, real in (("placed", placed), ("n-1", drains)):
            said = m[verdict]
            if said is None or real is None:
                continue
            lines.append(f"{verdict}: amctl {said}, real {real}")
            with lock:
                if said == "marginal":
                    tally["marginal"] += 1
                elif said == real:
                    tally["agree"] += 1
                    tally[verdict][0 if real in (True, "holds") else 1] += 1
                else:
                    tally["disagree"] += 1
                    bad = True
        with lock:
            tally["cases"] += 1
        text = f"placement case {n} ({base} {' '.join(sets)}): {'; '.join(lines)}"
        if bad:
            text += f" — {getattr(case, 'why', '')}"
        print(("FAIL " if bad else "ok   ") + text, flush=True)

    def rng_for(n):
        return random.Random(seed * 1000003 + n)

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(one, range(want)))
    took = time.monotonic() - start
    t = tally
    summary = (f"{t['cases']} cases in {took:.0f} s (seed {seed}): {t['agree']} verdicts agree with the real scheduler "
               f"(placed: {t['placed'][0]} all placed, {t['placed'][1]} not; n-1: {t['n-1'][0]} holds, {t['n-1'][1]} fails), "
               f"{t['marginal']} marginal, {t['disagree']} disagree, {t['skipped']} skipped")
    enough = t["cases"] >= 200 or t["cases"] >= want
    both = min(t["placed"]) > 0 and min(t["n-1"]) > 0
    ok = t["disagree"] == 0 and enough and both
    print(("ok   " if ok else "FAIL ") + "placement: " + summary
          + ("" if both else " (not every outcome occurred: the cases prove too little)"), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
