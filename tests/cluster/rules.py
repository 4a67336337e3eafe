"""amctl's restated API-server rules (src/kube/server.rs) against the real API server.

Usage: python3 tests/cluster/rules.py CLUSTER_DIR AMCTL [CASES] [--seed N] [--parallel N]

amctl decides before a migration which in-place updates the API server refuses (an immutable
field: the object is re-created; a claim that cannot grow: the step is refused or the claim made
anew), and says so in each step of `amctl migrate -o json` (`server_refuses`, with the rule's
citation, or `server_accepts_if`, a condition the step checks on the cluster first). Here the
real API server judges the same updates with `kubectl apply --dry-run=server`:

  generated: CASES profile pairs (prod with generated storage sizes and class, images, replica
      counts, TLS, priority classes, Service type, a CronJob's claim bound or not). FROM is
      applied (client-side, as amctl's scripts apply) and settles; `amctl migrate LIVE TO` is
      planned from its read-back; every object the plan updates is sent to the server as TO
      has it. The verdicts must be equal.
  every rule: one installation with a StorageClass of its own; for each rule of
      src/kube/server.rs, and for a field each mutable kind lets change, one object of the render
      with that one field changed. amctl plans `migrate LIVE MUTATED`; the server judges the
      object. Every rule is exercised; their verdicts must be equal.

Where the two differ, the server is right: the rule is fixed. Prints `ok`/`FAIL` lines; exits 1
on a disagreement or a harness failure.
"""

import concurrent.futures
import copy
import json
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kube import Cluster, Failed, option  # noqa: E402
from suite import read_back, secrets_env  # noqa: E402

POOL_NAME = "rules"
# The opt-ins, so every update is planned (the verdict does not depend on them).
FLAGS = ["--allow-data-loss", "--allow-data-migration"]

# Profile knobs each side picks from (prod's values first).
KNOBS = [
    ("kafka.storage.size", ['"500Gi"', '"1Ti"', '"400Gi"']),
    ("postgres.storage.size", ['"1Ti"', '"2Ti"']),
    ("postgres.backup.volume.size", ['"2Ti"', '"3Ti"', '"1Ti"']),
    ("storage.class", ['"fast-ssd"', '"standard"']),
    ("kafka.image", ['"apache/kafka:4.1.1"', '"apache/kafka:4.2.0"']),
    ("aerospike.replicas", ["3", "2"]),
    ("postgres.replicas", ["2", "1"]),
    ("cluster.priority_classes", ["true", "false"]),
    ("security.tls", ["true", "false"]),
    ("api.service_type", ['"ClusterIP"', '"NodePort"']),
    ("flink.taskmanager.local_state.size", ['"100Gi"', '"200Gi"']),
]


def generate(rng):
    """FROM and TO --set lists: each knob at prod's value or another, on each side."""
    def side():
        return [f"{k}={rng.choice(v) if rng.random() < 0.4 else v[0]}" for k, v in KNOBS]
    return side(), side()


def sets(values):
    return [a for s in values for a in ("--set", s)]


def server_verdict(c, ns, obj, field=None):
    """'refuses' (with the server's words) or 'accepts', for applying `obj` over the live one;
    'drops' when `field` (dotted) does not survive: this version's server does not have it (a
    feature gate off), so there is no update to judge."""
    p = c.kubectl("apply", "--dry-run=server", "-n", ns, "-f", "-", "-o", "json", input=json.dumps(obj), check=False)
    if p.returncode == 0:
        if field and field != "spec":
            try:
                if at(json.loads(p.stdout), field) != at(obj, field):
                    return "drops", ""
            except (KeyError, TypeError):
                return "drops", ""
        return "accepts", ""
    err = p.stderr.strip()
    if re.search(r"is invalid|is forbidden|Forbidden|field is immutable", err):
        said = [ln for ln in err.splitlines() if re.search(r"is invalid|is forbidden", ln)] or err.splitlines()
        return "refuses", said[-1][:300]
    raise Failed(f"`kubectl apply --dry-run=server` of {obj['kind']}/{obj['metadata']['name']} failed otherwise: {err[-400:]}")


def amctl_verdicts(plan):
    """(kind, name) → ('refuses', rules) | ('accepts-if', condition) | ('accepts', '') for every
    object the plan updates in place or re-creates."""
    out = {}
    for st in plan["steps"]:
        if st["action"] not in ("apply", "recreate", "scale"):
            continue
        key = (st["object"]["kind"], st["object"]["name"])
        if st.get("server_refuses"):
            out[key] = ("refuses", "; ".join(st["server_refuses"]))
        elif st.get("server_accepts_if"):
            out.setdefault(key, ("accepts-if", st["server_accepts_if"]))
        else:
            out.setdefault(key, ("accepts", ""))
    return out


def condition_holds(c, ns, name, condition):
    """A claim's `server_accepts_if` evaluated on the cluster: bound, and its class expands."""
    pvc = json.loads(c.kubectl("get", "pvc", name, "-n", ns, "-o", "json").stdout)
    holds = True
    if "Bound" in condition:
        holds &= pvc.get("status", {}).get("phase") == "Bound"
    if "allowVolumeExpansion" in condition:
        cls = pvc["spec"].get("storageClassName")
        sc = json.loads(c.kubectl("get", "storageclass", cls, "-o", "json").stdout) if cls else {}
        holds &= bool(sc.get("allowVolumeExpansion"))
    return holds


def install(c, ns, profile, args, run_cronjobs=False):
    """FROM in `ns`, on the rules nodes, settled; its read-back path."""
    c.confine(ns, POOL_NAME)
    # What the pods mount that no Certificate issues (keystore passwords, credentials).
    secrets_env(c, profile, ns, args)
    c.kubectl("apply", "-f", "-", input=c.amctl("render", profile, "-n", ns, *args).stdout)
    c.wait_ready(ns, timeout=180)
    if run_cronjobs:
        for cj in c.items("cronjobs", "-n", ns):
            c.kubectl("create", "job", f"{cj['metadata']['name'][:30]}-run", f"--from=cronjob/{cj['metadata']['name']}", "-n", ns)
        c.wait("the CronJobs' runs", 120, lambda: all(
            j.get("status", {}).get("succeeded", 0) >= 1 for j in c.items("jobs", "-n", ns)))
    return read_back(c, ns, os.path.join(c.dir, "work", f"live-{ns}.yaml"))


def clean(c, ns):
    c.kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)
    c.kubectl("delete", "priorityclass,storageclass", "-l", f"app.kubernetes.io/instance={ns}",
              "--ignore-not-found", check=False)


def judge(c, ns, verdicts, objects):
    """Compares amctl's verdict with the server's for each object amctl updates. Returns
    (agreements, disagreement lines)."""
    agree, differ = 0, []
    for key, (said, why) in sorted(verdicts.items()):
        obj = objects.get(key)
        if obj is None:
            continue
        real, words = server_verdict(c, ns, obj)
        if said == "accepts-if":
            said = "accepts" if condition_holds(c, ns, key[1], why) else "refuses"
        if said == real:
            agree += 1
        else:
            differ.append(f"{key[0]}/{key[1]}: amctl says the server {said} it ({why[:200]}), the server {real} it ({words})")
    return agree, differ


# ---------------------------------------------------------------- generated pairs
def generated_case(c, n, rng, tag):
    frm, to = generate(rng)
    for side in (frm, to):
        if c.amctl("validate", "prod", *sets(side), check=False).returncode not in (0, 3):
            return None
    ns = f"rules-{tag}-{n}"
    try:
        live = install(c, ns, "prod", sets(frm), run_cronjobs=rng.random() < 0.5)
        plan = c.amctl("migrate", live, "prod", *sets(to), "-n", ns, *FLAGS, "-o", "json", check=False)
        if plan.returncode not in (0, 3):
            raise Failed(f"amctl migrate exited {plan.returncode}: {plan.stderr[-400:]}")
        verdicts = amctl_verdicts(json.loads(plan.stdout))
        rendered = json.loads(c.amctl("render", "prod", *sets(to), "-n", ns, "-o", "json").stdout)["items"]
        objects = {(o["kind"], o["metadata"]["name"]): o for o in rendered}
        agree, differ = judge(c, ns, verdicts, objects)
        refused = sum(1 for v, _ in verdicts.values() if v == "refuses")
        return agree, differ, refused, (frm, to)
    finally:
        clean(c, ns)


# ---------------------------------------------------------------- every rule
def at(obj, path):
    for k in path.split("."):
        obj = obj[k]
    return obj


def put(obj, path, value):
    keys = path.split(".")
    for k in keys[:-1]:
        obj = obj.setdefault(k, {})
    obj[keys[-1]] = value


def first(objs, kind, pred=lambda o: True):
    return next(o for o in objs if o["kind"] == kind and pred(o))


def mutations(objs, ns):
    """(label, object mutated, the rule it exercises or None for a field the kind lets change)."""
    out = []

    def m(label, kind, change, rule, pred=lambda o: True):
        """`rule`: the field of the kind's rule in src/kube/server.rs this exercises (`spec` for
        a rule over the whole spec but some fields), or None."""
        o = copy.deepcopy(first(objs, kind, pred))
        change(o)
        out.append((label, o, (kind, rule) if rule else None))

    sts = lambda o: o["metadata"]["name"] == "kafka"  # noqa: E731
    m("StatefulSet spec.serviceName", "StatefulSet", lambda o: put(o, "spec.serviceName", "other"), "spec", sts)
    m("StatefulSet spec.podManagementPolicy", "StatefulSet",
      lambda o: put(o, "spec.podManagementPolicy", "Parallel" if o["spec"].get("podManagementPolicy") != "Parallel" else "OrderedReady"),
      "spec", sts)
    m("StatefulSet spec.volumeClaimTemplates[0] size", "StatefulSet",
      lambda o: put(o["spec"]["volumeClaimTemplates"][0], "spec.resources.requests.storage", "2Ti"), "spec", sts)
    m("StatefulSet spec.replicas", "StatefulSet", lambda o: put(o, "spec.replicas", o["spec"]["replicas"] + 1), None, sts)
    m("StatefulSet spec.minReadySeconds", "StatefulSet", lambda o: put(o, "spec.minReadySeconds", 7), None, sts)
    m("StatefulSet spec.updateStrategy", "StatefulSet",
      lambda o: put(o, "spec.updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}), None, sts)
    m("StatefulSet spec.persistentVolumeClaimRetentionPolicy", "StatefulSet",
      lambda o: put(o, "spec.persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Delete"}), None, sts)
    m("StatefulSet spec.template", "StatefulSet",
      lambda o: o["spec"]["template"]["metadata"].setdefault("annotations", {}).update({"amctl.test/rule": "1"}), None, sts)

    def selector(o):
        o["spec"]["selector"]["matchLabels"]["amctl.test/rule"] = "1"
        o["spec"]["template"]["metadata"]["labels"]["amctl.test/rule"] = "1"
    m("Deployment spec.selector", "Deployment", selector, "spec.selector")
    m("Deployment spec.minReadySeconds", "Deployment", lambda o: put(o, "spec.minReadySeconds", 9), None)

    job = lambda o: True  # noqa: E731
    m("Job spec.selector", "Job", lambda o: put(o, "spec.selector", {"matchLabels": {"amctl.test/rule": "1"}}), "spec.selector", job)
    m("Job spec.template", "Job",
      lambda o: o["spec"]["template"]["metadata"].setdefault("annotations", {}).update({"amctl.test/rule": "1"}), "spec.template", job)
    m("Job spec.completions", "Job", lambda o: put(o, "spec.completions", (o["spec"].get("completions") or 1) + 1), "spec.completions", job)
    m("Job spec.completionMode", "Job", lambda o: put(o, "spec.completionMode", "Indexed"), "spec.completionMode", job)
    m("Job spec.podFailurePolicy", "Job",
      lambda o: put(o, "spec.podFailurePolicy", {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}),
      "spec.podFailurePolicy", job)
    m("Job spec.ttlSecondsAfterFinished", "Job", lambda o: put(o, "spec.ttlSecondsAfterFinished", 77), None, job)

    svc = lambda o: o["spec"].get("clusterIP") != "None" and o["spec"].get("type", "ClusterIP") == "ClusterIP"  # noqa: E731
    m("Service spec.clusterIP", "Service", lambda o: put(o, "spec.clusterIP", "10.0.0.250"), "spec.clusterIP", svc)
    m("Service spec.clusterIPs", "Service", lambda o: put(o, "spec.clusterIPs", ["10.0.0.251"]), "spec.clusterIPs", svc)
    m("Service spec.ipFamilies", "Service", lambda o: put(o, "spec.ipFamilies", ["IPv6"]), "spec.ipFamilies", svc)
    m("Service spec.ports", "Service",
      lambda o: o["spec"]["ports"].append({"name": "rule", "port": 9999, "targetPort": 9999, "protocol": "TCP"}), None, svc)

    claim = lambda o: True  # noqa: E731
    m("PersistentVolumeClaim spec.accessModes", "PersistentVolumeClaim",
      lambda o: put(o, "spec.accessModes", ["ReadWriteMany"] if o["spec"]["accessModes"] != ["ReadWriteMany"] else ["ReadWriteOnce"]),
      "spec", claim)
    m("PersistentVolumeClaim spec.storageClassName", "PersistentVolumeClaim",
      lambda o: put(o, "spec.storageClassName", "standard"), "spec", claim)
    m("PersistentVolumeClaim spec.resources.requests.storage (shrink)", "PersistentVolumeClaim",
      lambda o: put(o, "spec.resources.requests.storage", "1Gi"), "spec", claim)
    m("PersistentVolumeClaim spec.resources.requests.storage (grow)", "PersistentVolumeClaim",
      lambda o: put(o, "spec.resources.requests.storage", "9Ti"), None, claim)

    m("StorageClass parameters", "StorageClass", lambda o: o.setdefault("parameters", {}).update({"amctl-rule": "1"}), "parameters")
    m("StorageClass provisioner", "StorageClass", lambda o: put(o, "provisioner", "amctl.test/other"), "provisioner")
    m("StorageClass reclaimPolicy", "StorageClass",
      lambda o: put(o, "reclaimPolicy", "Delete" if o.get("reclaimPolicy") == "Retain" else "Retain"), "reclaimPolicy")
    m("StorageClass volumeBindingMode", "StorageClass",
      lambda o: put(o, "volumeBindingMode", "Immediate" if o.get("volumeBindingMode") != "Immediate" else "WaitForFirstConsumer"),
      "volumeBindingMode")
    m("StorageClass allowVolumeExpansion", "StorageClass",
      lambda o: put(o, "allowVolumeExpansion", not o.get("allowVolumeExpansion", False)), None)

    m("PriorityClass value", "PriorityClass", lambda o: put(o, "value", o["value"] + 1), "value")
    m("PriorityClass preemptionPolicy", "PriorityClass", lambda o: put(o, "preemptionPolicy", "Never"), "preemptionPolicy")
    m("PriorityClass description", "PriorityClass", lambda o: put(o, "description", "changed"), None)

    m("RoleBinding roleRef", "RoleBinding", lambda o: put(o, "roleRef.name", "other"), "roleRef")
    m("RoleBinding subjects", "RoleBinding",
      lambda o: o["subjects"].append({"kind": "ServiceAccount", "name": "default", "namespace": ns}), None)

    # The mutable kinds: a field each lets change.
    m("ConfigMap data", "ConfigMap", lambda o: o.setdefault("data", {}).update({"amctl-rule": "1"}), None)
    m("CronJob spec.schedule", "CronJob", lambda o: put(o, "spec.schedule", "17 3 * * *"), None)
    m("HorizontalPodAutoscaler spec.maxReplicas", "HorizontalPodAutoscaler", lambda o: put(o, "spec.maxReplicas", o["spec"]["maxReplicas"] + 1), None)
    m("PodDisruptionBudget spec", "PodDisruptionBudget",
      lambda o: put(o, "spec.maxUnavailable" if "maxUnavailable" in o["spec"] else "spec.minAvailable", 0), None)
    m("NetworkPolicy spec.ingress", "NetworkPolicy", lambda o: o["spec"].setdefault("ingress", []).append({}), None)
    m("Role rules", "Role", lambda o: o["rules"].append({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}), None)
    m("ServiceAccount automountServiceAccountToken", "ServiceAccount",
      lambda o: put(o, "automountServiceAccountToken", not o.get("automountServiceAccountToken", True)), None)
    m("Namespace labels", "Namespace", lambda o: o["metadata"]["labels"].update({"amctl.test/rule": "1"}), None)
    m("Certificate spec.duration", "Certificate", lambda o: put(o, "spec.duration", "2000h0m0s"), None)
    m("ServiceMonitor spec.endpoints", "ServiceMonitor", lambda o: put(o["spec"]["endpoints"][0], "interval", "45s"), None)
    m("PodMonitor spec.podMetricsEndpoints", "PodMonitor", lambda o: put(o["spec"]["podMetricsEndpoints"][0], "interval", "45s"), None)
    m("PrometheusRule spec.groups", "PrometheusRule", lambda o: put(o["spec"]["groups"][0], "interval", "45s"), None)
    m("Ingress spec.rules", "Ingress", lambda o: put(o["spec"]["rules"][0], "host", "other.example.com"), None)
    return out


def every_rule(c, tag):
    """Each rule of src/kube/server.rs (and a mutable field of each kind), one object at a time."""
    ns = f"rules-{tag}-all"
    profile_sets = [
        f'storage.class="{ns}"',
        'storage.define_class={ provisioner = "amctl.test/zonal", parameters = { tier = "fast" }, '
        'reclaim_policy = "Delete", allow_volume_expansion = true, volume_binding_mode = "WaitForFirstConsumer" }',
    ]
    lines = []
    try:
        live = install(c, ns, "prod", sets(profile_sets), run_cronjobs=True)
        base = json.loads(c.amctl("render", "prod", *sets(profile_sets), "-n", ns, "-o", "json").stdout)
        # A ConfigMap marked immutable, as amctl's own objects are labelled: the rule that holds
        # its data (and the mark itself) once set.
        cm = copy.deepcopy(first(base["items"], "ConfigMap"))
        cm["metadata"]["name"] = "amctl-rule-immutable"
        cm["immutable"] = True
        c.kubectl("apply", "-f", "-", input=json.dumps(cm))
        base["items"].append(cm)
        live = read_back(c, ns, live)
        # An Indexed Job (amctl renders none): the rules only such a Job can break.
        job = copy.deepcopy(first(base["items"], "Job"))
        job["metadata"]["name"] = "amctl-rule-indexed"
        job["spec"].update({"completionMode": "Indexed", "completions": 1, "parallelism": 1})
        c.kubectl("apply", "-f", "-", input=json.dumps(job))
        base["items"].append(job)
        live = read_back(c, ns, live)
        cases = mutations(base["items"], ns)

        def variant(label, obj, change, rule):
            o = copy.deepcopy(obj)
            change(o)
            cases.append((label, o, rule))
        variant("ConfigMap data (immutable: true)", cm, lambda o: o.setdefault("data", {}).update({"amctl-rule": "1"}),
                ("ConfigMap", "data"))
        variant("ConfigMap binaryData (immutable: true)", cm, lambda o: o.setdefault("binaryData", {}).update({"amctl-rule": "MQ=="}),
                ("ConfigMap", "binaryData"))
        variant("ConfigMap immutable: true → false", cm, lambda o: o.update({"immutable": False}), ("ConfigMap", "immutable"))
        variant("Job spec.backoffLimitPerIndex (Indexed)", job, lambda o: put(o, "spec.backoffLimitPerIndex", 2),
                ("Job", "spec.backoffLimitPerIndex"))
        variant("Job spec.successPolicy (Indexed)", job,
                lambda o: put(o, "spec.successPolicy", {"rules": [{"succeededIndexes": "0"}]}), ("Job", "spec.successPolicy"))
        variant("Job spec.managedBy", job, lambda o: put(o, "spec.managedBy", "amctl.test/controller"), ("Job", "spec.managedBy"))
        seen = set()
        for label, obj, rule in cases:
            key = (obj["kind"], obj["metadata"]["name"])
            stream = {"apiVersion": "v1", "kind": "List",
                      "items": [obj if (o["kind"], o["metadata"]["name"]) == key else o for o in base["items"]]}
            path = os.path.join(c.dir, "work", f"mutated-{ns}.json")
            with open(path, "w") as f:
                json.dump(stream, f)
            plan = c.amctl("migrate", live, path, "-n", ns, *FLAGS, "-o", "json", check=False)
            if plan.returncode not in (0, 3):
                lines.append(("FAIL", f"{label}: amctl migrate exited {plan.returncode}: {plan.stderr[-300:]}"))
                continue
            said, why = amctl_verdicts(json.loads(plan.stdout)).get(key, ("accepts", "no step: amctl sees nothing to update"))
            if said == "accepts-if":
                said = "accepts" if condition_holds(c, ns, key[1], why) else "refuses"
            real, words = server_verdict(c, ns, obj, rule[1] if rule else None)
            if rule:
                seen.add(rule)
            if real == "drops":
                lines.append(("ok", f"{label}: this server has no such field (its feature gate is off at this version): "
                              f"nothing to update, amctl's rule ({said}) never meets it here"))
            elif said == real:
                lines.append(("ok", f"{label}: amctl and the API server agree: it {real} the update"
                              + (f" ({words[:160]})" if words else "")))
            else:
                lines.append(("FAIL", f"{label}: amctl says the server {said} it ({why[:200]}), the server {real} it ({words})"))
        return lines, seen
    finally:
        clean(c, ns)


def main(argv):
    args = argv[1:]
    seed = option(args, "--seed", random.randrange(1 << 30), int)
    parallel = option(args, "--parallel", 4, int)
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    c = Cluster(args[0], os.path.abspath(args[1]))
    os.makedirs(os.path.join(c.dir, "work"), exist_ok=True)
    want = int(args[2]) if len(args) > 2 else 24
    tag = f"{seed % 100000}-{os.getpid() % 10000}"  # a rerun never meets a namespace still going
    print(f"rules: seed {seed} (--seed {seed} replays it)", flush=True)
    # Nodes roomy enough for several installations at once, over prod's zones.
    model = {"nodes": 9, "capacity": {"cpu": 256000, "memory": 2 ** 40}, "allocatable": {"cpu": 256000, "memory": 2 ** 40}}
    c.make_nodes(POOL_NAME, model, ["zone-a", "zone-b", "zone-c"])
    failed = 0
    try:
        try:
            lines, seen = every_rule(c, tag)
        except Failed as e:
            lines, seen = [("FAIL", f"every rule: the harness failed: {e}")], set()
        for status, text in lines:
            failed += status == "FAIL"
            print(f"{'ok  ' if status == 'ok' else 'FAIL'} [rules] {text}", flush=True)
        source = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "kube", "server.rs")).read()
        restated = {(k, f or "spec") for k, f in re.findall(
            r'kind: "(\w+)",\n\s+fields: Fields::(?:Under\("([\w.]+)"\)|SpecBut)', source)}
        missing = sorted(restated - seen)
        if missing or not restated:
            failed += 1
            print(f"FAIL [rules] rules of src/kube/server.rs no case exercises: {missing}", flush=True)
        else:
            print(f"ok   [rules] each of the {len(restated)} rules of src/kube/server.rs is exercised against the server", flush=True)

        lock = threading.Lock()
        tally = {"cases": 0, "agree": 0, "refused": 0, "differ": 0}

        def one(n):
            rng = random.Random(seed * 1000003 + n)
            for _ in range(5):
                try:
                    got = generated_case(c, n, rng, tag)
                except Failed as e:
                    with lock:
                        tally["differ"] += 1
                    print(f"FAIL [rules] generated case {n}: the harness failed: {e}", flush=True)
                    return
                if got is not None:
                    break
            else:
                return
            agree, differ, refused, (frm, to) = got
            with lock:
                tally["cases"] += 1
                tally["agree"] += agree
                tally["refused"] += refused
                tally["differ"] += len(differ)
            if differ:
                print(f"FAIL [rules] generated case {n} (FROM {' '.join(frm)} TO {' '.join(to)}): " + " | ".join(differ), flush=True)

        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(one, range(want)))
        t = tally
        good = t["differ"] == 0 and t["cases"] >= want and t["refused"] > 0
        failed += not good
        print(("ok   " if good else "FAIL ") + f"[rules] {t['cases']} generated profile pairs in {time.monotonic() - start:.0f} s: "
              f"{t['agree']} updates judged alike by amctl and the API server ({t['refused']} refused), {t['differ']} differ", flush=True)
    finally:
        c.remove_nodes(POOL_NAME)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
