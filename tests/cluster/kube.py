"""The test cluster from Python: kubectl of the cluster's own release, nodes shaped from amctl's
node model, and the waits and reads the suites share. Standard library only.

As a program (for developers, after tests/cluster/up DIR):

    python3 tests/cluster/kube.py DIR nodes PROFILE [amctl args...]   # nodes for PROFILE
    python3 tests/cluster/kube.py DIR wait NAMESPACE                   # until it is Ready
"""

import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# Labels and annotations the harness puts on what it creates, so it can find and remove them.
POOL = "amctl.test/pool"
# The nodes a test's namespace may use (one or more pools): the PodNodeSelector admission
# plugin keeps the namespace's pods on them (Cluster.confine), so tests run side by side.
GROUP = "amctl.test/group"
NODE_SELECTOR = "scheduler.alpha.kubernetes.io/node-selector"
KWOK = {"kwok.x-k8s.io/node": "fake"}


# kubectl's names for what the waits read, and their API paths (group version, resource).
API_PATHS = {
    "pods": ("api/v1", "pods"),
    "pvc": ("api/v1", "persistentvolumeclaims"),
    "nodes": ("api/v1", "nodes"),
    "events": ("api/v1", "events"),
    "secrets": ("api/v1", "secrets"),
    "statefulsets": ("apis/apps/v1", "statefulsets"),
    "deployments": ("apis/apps/v1", "deployments"),
    "jobs": ("apis/batch/v1", "jobs"),
    "cronjobs": ("apis/batch/v1", "cronjobs"),
    "pdb": ("apis/policy/v1", "poddisruptionbudgets"),
    "hpa": ("apis/autoscaling/v2", "horizontalpodautoscalers"),
    "certificates.cert-manager.io": ("apis/cert-manager.io/v1", "certificates"),
}


# The scheduler's messages that say it waits rather than fails, and places the pod as soon as
# the wait is over: two pods binding the same new claim at once (optimistic concurrency,
# retried at once), a pod seen before the ephemeral volume controller made its generic
# ephemeral claim, or before the StatefulSet controller made its claim. The first in the words
# of v1.30 too: its VolumeBinding plugin says the claim in its cache "is out of sync".
WAITS = re.compile(r"Operation cannot be fulfilled on persistentvolumeclaims .* the object has been modified"
                   r'|running Reserve plugin "VolumeBinding": v1.PersistentVolumeClaim ".*" is out of sync'
                   r"|waiting for ephemeral volume controller to create the persistentvolumeclaim"
                   r'|persistentvolumeclaim "[a-z0-9.-]+" not found')


def option(args, flag, default, kind=str):
    """Takes `flag VALUE` out of the argument list `args` (in place): VALUE as `kind`, or
    `default` when the flag is not there."""
    if flag not in args:
        return default
    i = args.index(flag)
    if i + 1 >= len(args):
        raise SystemExit(f"{flag} needs a value")
    value = args[i + 1]
    del args[i:i + 2]
    return kind(value)


class Failed(Exception):
    """A command or a wait that did not succeed: the message says which and why."""


class Cluster:
    """A cluster tests/cluster/up brought up in `dir`."""

    def __init__(self, dir, amctl=None):
        self.dir = os.path.abspath(dir)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.kubectl_bin = os.path.join(self.dir, "bin", "kubectl")
        if not os.path.exists(self.kubeconfig) or not os.path.exists(self.kubectl_bin):
            raise Failed(f"{self.dir} holds no cluster: run tests/cluster/up {self.dir} first")
        self.amctl_bin = amctl or os.path.join(ROOT, "target", "debug", "amctl")
        pki = os.path.join(self.dir, "pki")
        self.tls = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.tls.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        server = re.search(r"server: \"?https://([0-9.]+):([0-9]+)", open(self.kubeconfig).read())
        self.server = (server.group(1), int(server.group(2)))
        self._local = threading.local()
        # The scripts amctl prints run `kubectl`: the release's own, on this cluster.
        self.env = dict(os.environ)
        self.env["KUBECONFIG"] = self.kubeconfig
        self.env["PATH"] = os.path.join(self.dir, "bin") + os.pathsep + self.env["PATH"]

    # ------------------------------------------------------------ commands
    def run(self, args, input=None, check=True, timeout=600, env=None):
        """Runs a command with the cluster's kubeconfig and kubectl; returns CompletedProcess."""
        p = subprocess.run(args, input=input, capture_output=True, text=True, timeout=timeout,
                           env=env or self.env)
        if check and p.returncode != 0:
            raise Failed(f"`{' '.join(args)[:200]}` exited {p.returncode}: {p.stderr.strip()[-1500:]}")
        return p

    def kubectl(self, *args, input=None, check=True, timeout=600):
        return self.run([self.kubectl_bin, *args], input=input, check=check, timeout=timeout)

    def amctl(self, *args, check=True):
        return self.run([self.amctl_bin, *args], check=check)

    def get(self, *args):
        """`kubectl get ... -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def items(self, kind, *args):
        """The objects of `kind` (`-n NS`, `-l SELECTOR`, `--field-selector F` as for kubectl
        get), read straight from the API server: the waits poll often, and a kubectl process per
        poll would cost more CPU than the cluster under test."""
        path = API_PATHS.get(kind)
        if path is None:
            return self.get(kind, *args).get("items", [])
        ns, query = None, {}
        it = iter(args)
        for a in it:
            if a == "-n":
                ns = next(it)
            elif a == "-l":
                query["labelSelector"] = next(it)
            elif a == "--field-selector":
                query["fieldSelector"] = next(it)
            else:
                raise ValueError(f"items(): {a}")
        group, resource = path
        url = f"/{group}/namespaces/{ns}/{resource}" if ns else f"/{group}/{resource}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return self.rest("GET", url).get("items", [])

    def rest(self, method, url):
        """One request to the API server with the admin certificate, on this thread's
        keep-alive connection."""
        conn = getattr(self._local, "conn", None)
        for attempt in (0, 1):
            if conn is None:
                conn = http.client.HTTPSConnection(self.server[0], self.server[1], context=self.tls, timeout=30)
                self._local.conn = conn
            try:
                conn.request(method, url)
                r = conn.getresponse()
                body = r.read()
                if r.status >= 300:
                    raise Failed(f"{method} {url}: {r.status} {body[:300]!r}")
                return json.loads(body)
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = self._local.conn = None
                if attempt:
                    raise
        raise Failed(f"{method} {url}: no answer")

    # ------------------------------------------------------------ nodes
    def node_model(self, profile, *amctl_args):
        """amctl's node model and the profile's zones, as `amctl budget -o json` and `show` say."""
        budget = json.loads(self.amctl("budget", profile, *amctl_args, "-o", "json").stdout)
        shown = json.loads(self.amctl("show", profile, *amctl_args, "-o", "json").stdout)
        return budget["node"], shown["cluster"].get("zones") or []

    def confine(self, ns, group):
        """Creates namespace `ns` with its pods kept on the nodes of `group` (make_nodes)."""
        # As `amctl secrets` makes it (--save-config): client-side apply takes it over quietly.
        self.kubectl("create", "namespace", ns, "--save-config")
        self.kubectl("annotate", "namespace", ns, f"{NODE_SELECTOR}={GROUP}={group}")

    def make_nodes(self, pool, model, zones, count=None, offset=0, group=None):
        """`count` (default: the model's) kwok nodes of the model's capacity and allocatable,
        spread over `zones` in turn, labelled with `pool`; and per node the requests of the
        distribution's own pods (coredns, metrics-server, ...) as the model counts them."""
        count = model["nodes"] if count is None else count
        if offset == 0:
            self.remove_nodes(pool)  # what an interrupted run left behind
        names = []
        docs = []
        for i in range(offset, offset + count):
            name = f"{pool}-{i}"
            names.append(name)
            labels = {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                POOL: pool,
                GROUP: group or pool,
            }
            if zones:
                labels["topology.kubernetes.io/zone"] = zones[i % len(zones)]
            docs.append({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": labels, "annotations": dict(KWOK)},
                "spec": {},
                "status": {
                    "capacity": {"cpu": f"{model['capacity']['cpu']}m",
                                 "memory": str(model["capacity"]["memory"]), "pods": "110"},
                    "allocatable": {"cpu": f"{model['allocatable']['cpu']}m",
                                    "memory": str(model["allocatable"]["memory"]), "pods": "110"},
                },
            })
        self.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
        system = model.get("system_pods") or {}
        if system.get("memory") or system.get("cpu"):
            self.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(system_pods(pool, system)))
        self.wait(f"nodes of {pool} Ready", 60, lambda: all(
            any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))
            for n in self.items("nodes", "-l", f"{POOL}={pool}")) and len(names) > 0)
        return names

    def remove_nodes(self, pool):
        self.kubectl("delete", "daemonset", f"system-pods-{pool}", "-n", "kube-system", "--ignore-not-found", "--wait=false")
        self.kubectl("delete", "nodes", "-l", f"{POOL}={pool}", "--ignore-not-found", "--wait=true")

    # ------------------------------------------------------------ waits
    def wait(self, what, timeout, ready, every=0.5):
        """Calls `ready()` until it returns true; raises Failed with `what` after `timeout` s."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                if ready():
                    return
            except Failed as e:
                if str(e).startswith("unschedulable for"):
                    raise
                last = e
            if time.monotonic() > deadline:
                raise Failed(f"{what}: not after {timeout} s" + (f" ({last})" if last else ""))
            time.sleep(every)

    def not_ready(self, ns):
        """What in `ns` is not Ready yet (workloads, claims, certificates), as short strings."""
        out = []
        for kind in ("statefulsets", "deployments"):
            for w in self.items(kind, "-n", ns):
                want = w["spec"].get("replicas", 1)
                st = w.get("status", {})
                ready = st.get("readyReplicas", 0)
                updated = st.get("updatedReplicas", 0)
                current = st.get("observedGeneration", 0) >= w["metadata"].get("generation", 0)
                if ready < want or updated < want or st.get("replicas", 0) != want or not current:
                    out.append(f"{kind[:-1]}/{w['metadata']['name']} {ready}/{want} ready, {updated} updated")
        # A claim no pod mounts yet waits for its first consumer (WaitForFirstConsumer): that
        # is its steady state until then (a CronJob's, before its first run).
        mounted = {v["persistentVolumeClaim"]["claimName"]
                   for p in self.items("pods", "-n", ns)
                   for v in p["spec"].get("volumes", []) if "persistentVolumeClaim" in v}
        for c in self.items("pvc", "-n", ns):
            phase = c.get("status", {}).get("phase")
            if phase != "Bound" and (phase != "Pending" or c["metadata"]["name"] in mounted):
                out.append(f"pvc/{c['metadata']['name']} {phase}")
        for c in self.items("certificates.cert-manager.io", "-n", ns):
            if not any(x["type"] == "Ready" and x["status"] == "True" for x in c.get("status", {}).get("conditions", [])):
                out.append(f"certificate/{c['metadata']['name']} not Ready")
        return out

    def wait_ready(self, ns, timeout=180, stalled=30):
        """Until everything in `ns` is Ready; gives up early when pods have been Unschedulable
        and nothing changed for `stalled` seconds (the scheduler retries within seconds on
        kwok nodes: waiting longer would not help)."""
        left = []
        since = [time.monotonic(), None]

        def ready():
            left[:] = self.not_ready(ns)
            if not left:
                return True
            if left != since[1]:
                since[:] = [time.monotonic(), list(left)]
            elif time.monotonic() - since[0] > stalled and self.unschedulable(ns):
                raise Failed(f"unschedulable for {stalled} s")
            return False
        try:
            self.wait(f"namespace {ns} Ready", timeout, ready, every=1)
        except Failed as e:
            raise Failed(f"{e}: {', '.join(left)}; {self.pending_reasons(ns)}") from None

    def unschedulable(self, ns):
        """Pods the scheduler could not place, but for those only waiting (see WAITS)."""
        return [p for p in self.items("pods", "-n", ns, "--field-selector", "status.phase=Pending")
                if any(c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"
                       and not WAITS.search(c.get("message", ""))
                       for c in p.get("status", {}).get("conditions", []))]

    def pending_reasons(self, ns):
        """Why pods of `ns` are Pending, in the scheduler's words."""
        out = []
        for p in self.items("pods", "-n", ns, "--field-selector", "status.phase=Pending"):
            for c in p.get("status", {}).get("conditions", []):
                if c["type"] == "PodScheduled" and c["status"] == "False":
                    out.append(f"{p['metadata']['name']}: {c.get('message', c.get('reason'))}")
        return "; ".join(out) or "no pod Pending"

    def warnings(self, ns, since=None):
        """Warning events of `ns` (reason, object, message), newer than resourceVersion `since`."""
        out = []
        for e in self.items("events", "-n", ns, "--field-selector", "type=Warning"):
            if since is not None and int(e["metadata"]["resourceVersion"]) <= since:
                continue
            obj = e.get("involvedObject", {})
            out.append((e.get("reason"), f"{obj.get('kind', '').lower()}/{obj.get('name')}", e.get("message", "")))
        return out

    def minor(self):
        """The API server's minor version (30 for v1.30.14)."""
        if not hasattr(self, "_minor"):
            v = json.loads(self.kubectl("version", "-o", "json").stdout)["serverVersion"]
            self._minor = int(re.match(r"\d+", v["minor"]).group(0))
        return self._minor

    def resource_version(self):
        """The cluster's current resourceVersion: events newer than it came after this call."""
        listed = json.loads(self.kubectl("get", "--raw", "/api/v1/events?limit=1").stdout)
        return int(listed["metadata"]["resourceVersion"])


def system_pods(pool, requests):
    """A DaemonSet standing in for the distribution's own pods on each node of `pool`: what the
    scheduler sees of them is their requests, and that is all this carries."""
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": f"system-pods-{pool}", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"app": f"system-pods-{pool}"}},
            "template": {
                "metadata": {"labels": {"app": f"system-pods-{pool}"}},
                "spec": {
                    "nodeSelector": {POOL: pool},
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{
                        "name": "system",
                        "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"memory": str(requests.get("memory", 0)),
                                                   "cpu": f"{requests.get('cpu', 0)}m"}},
                    }],
                },
            },
        },
    }


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    c = Cluster(argv[1])
    if argv[2] == "nodes" and len(argv) >= 4:
        model, zones = c.node_model(argv[3], *argv[4:])
        pool = os.path.splitext(os.path.basename(argv[3]))[0]
        print("\n".join(c.make_nodes(pool, model, zones)))
        return 0
    if argv[2] == "wait" and len(argv) == 4:
        c.wait_ready(argv[3])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Failed as e:
        print(f"kube.py: {e}", file=sys.stderr)
        sys.exit(1)
