#!/usr/bin/env bash
# A real Flink at the image's version, configured exactly as the rendered pods configure it,
# running a stateful job to a completed checkpoint. Part of tests/conformance.sh.
#
#   tests/flink.sh AMCTL PYTHON FLINK_HOME WORKDIR
#
# FLINK_HOME is the distribution the PyPI wheels apache-flink / apache-flink-libraries hold
# (pyflink/), the same flink-dist the image flink:2.1.1-scala_2.12-java17 unpacks. For each pod
# (JobManager, TaskManager) this builds the conf/ the container reads, step by step as on the
# cluster:
#   1. the image's conf/: the distribution's, with the Dockerfile's edits
#      (apache/flink-docker 2.1/scala_2.12-java17-ubuntu/Dockerfile: config-parser-utils.sh
#      -repKV rest.address,localhost,0.0.0.0 ... -rmKV taskmanager.host=localhost);
#   2. the pod's init container: the rendered prepare.sh over a copy of it;
#   3. the entrypoint: docker-entrypoint.sh `prepare_configuration` (lines 84-101) sets
#      jobmanager.rpc.address, blob.server.port and query.server.port through
#      config-parser-utils.sh.
# Only where things are moves into this sandbox: the absolute paths of the pod's volumes, and
# the ports and address two pods on one machine cannot share. Then it starts
# `jobmanager.sh start-foreground` and `taskmanager.sh start-foreground`, checks through the REST
# API that the slots and every memory pool are what `amctl budget -o json` says, submits
# tests/flink/KeyedCount.java with `flink run` from the JobManager's conf, and waits for a
# completed checkpoint in the rendered checkpoint storage.
#
# Prints `ok ...` / `FAIL ...` lines; exits 1 when one failed.
set -euo pipefail
amctl=$1 py=$2 flink_home=$3 work=$4
here=$(cd "$(dirname "$0")/.." && pwd)
profile=demo
failed=0
ok() { echo "ok   $*"; }
bad() { failed=1; echo "FAIL $*"; }
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

mkdir -p "$work"
"$amctl" render "$profile" -o json > "$work/render.json"
"$amctl" budget "$profile" -o json > "$work/budget.json"

# 1. The image's conf/.
image=$work/image/opt/flink
mkdir -p "$image"
cp -R "$flink_home/conf" "$image/conf"
cp -R "$flink_home/plugins" "$image/plugins"
mkdir -p "$image/opt"
bash "$flink_home/bin/config-parser-utils.sh" "$image/conf" "$flink_home/bin" "$flink_home/lib" \
  -repKV rest.address,localhost,0.0.0.0 -repKV rest.bind-address,localhost,0.0.0.0 \
  -repKV jobmanager.bind-host,localhost,0.0.0.0 -repKV taskmanager.bind-host,localhost,0.0.0.0 \
  -rmKV taskmanager.host=localhost >/dev/null

# What the ConfigMap holds, with the pod's absolute paths moved into the sandbox.
rpc=$(free_port) blob=$(free_port) rest=$(free_port) tm_rpc=$(free_port) tm_data=$(free_port)
"$py" - "$work/render.json" "$work" <<'EOF'
import json, re, sys, os
render, work = json.load(open(sys.argv[1])), sys.argv[2]
cm = next(o for o in render["items"] if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "flink-config")
# The volumes' mount paths (and the image's /opt/flink), as the pods have them.
moves = ["/opt/flink", "/flink-conf", "/flink-plugins", "/etc/flink-amctl", "/flink-checkpoints", "/flink-rocksdb"]
def relocate(text, pod):
    for m in moves:
        # Each pod's own volumes; RocksDB's path is the TaskManager's (a job carries its state
        # backend options from the client's config, and only TaskManagers open RocksDB).
        if m in ("/flink-conf", "/flink-plugins"):
            target = f"{work}/{pod}{m}"
        elif m == "/flink-rocksdb":
            target = f"{work}/taskmanager{m}"
        elif m == "/opt/flink":
            target = f"{work}/image{m}"
        else:
            target = f"{work}/shared{m}"
        text = re.sub(re.escape(m) + r"(?=[/\"' \n]|$)", target, text)
    return text
for pod in ("jobmanager", "taskmanager"):
    d = f"{work}/shared/etc/flink-amctl-{pod}"
    os.makedirs(d, exist_ok=True)
    for key in ("config.yaml", "prepare.sh"):
        text = relocate(cm["data"][key], pod).replace(f"{work}/shared/etc/flink-amctl", d)
        open(f"{d}/{key}", "w").write(text)
    for sub in ("flink-conf", "flink-plugins", "flink-rocksdb"):
        os.makedirs(f"{work}/{pod}/{sub}", exist_ok=True)
os.makedirs(f"{work}/shared/flink-checkpoints", exist_ok=True)
EOF

for pod in jobmanager taskmanager; do
  # 2. The init container.
  if sh "$work/shared/etc/flink-amctl-$pod/prepare.sh" > "$work/prepare-$pod.log" 2>&1; then :; else
    bad "(i) flink $pod: the rendered prepare.sh failed"; cat "$work/prepare-$pod.log"; exit 1
  fi
  if [ "${AMCTL_FLINK_SABOTAGE:-}" = replace-config ]; then
    # The negative control: what the init container did before, amctl's config.yaml in place
    # of the image's.
    cp "$work/shared/etc/flink-amctl-$pod/config.yaml" "$work/$pod/flink-conf/config.yaml"
  fi
  # 3. The entrypoint, and the ports two pods on one host cannot share.
  metrics=$(free_port)
  bash "$flink_home/bin/config-parser-utils.sh" "$work/$pod/flink-conf" "$flink_home/bin" "$flink_home/lib" \
    -Djobmanager.rpc.address=127.0.0.1 -Dblob.server.port="$blob" -Dquery.server.port=6125 \
    -Djobmanager.rpc.port="$rpc" -Drest.port="$rest" -Dtaskmanager.rpc.port="$tm_rpc" \
    -Dtaskmanager.data.port="$tm_data" -Dmetrics.reporter.prom.port="$metrics" >/dev/null
done
conf_jm=$work/jobmanager/flink-conf conf_tm=$work/taskmanager/flink-conf
if grep -q -- "--add-opens=java.base/java.util=ALL-UNNAMED" "$conf_jm/config.yaml"; then
  ok "(i) flink: the prepared config.yaml keeps the image's env.java.opts.all (the JDK 17 --add-opens)"
else
  bad "(i) flink: env.java.opts.all was lost from the prepared config.yaml"
fi

start() { # pod script
  FLINK_CONF_DIR=$work/$1/flink-conf FLINK_LOG_DIR=$work/$1/log FLINK_PLUGINS_DIR=$work/$1/flink-plugins \
    "$flink_home/bin/$2" start-foreground > "$work/$1.out" 2>&1 &
  pids+=($!)
}
start jobmanager jobmanager.sh
start taskmanager taskmanager.sh
api() { "$py" -c 'import json,sys,urllib.request; print(json.dumps(json.load(urllib.request.urlopen(sys.argv[1], timeout=5))))' "http://127.0.0.1:$rest$1"; }
for _ in $(seq 1 90); do
  if tms=$(api /taskmanagers 2>/dev/null) && [ "$("$py" -c 'import json,sys; print(len(json.loads(sys.argv[1])["taskmanagers"]))' "$tms")" = 1 ]; then break; fi
  sleep 1
done
if [ -z "${tms:-}" ]; then
  bad "(i) flink: the JobManager's REST API never answered"; tail -20 "$work/jobmanager.out" "$work/taskmanager.out"; exit 1
fi
tm_id=$("$py" -c 'import json,sys; print(json.loads(sys.argv[1])["taskmanagers"][0]["id"])' "$tms")
api "/taskmanagers/$tm_id" > "$work/tm.json"
api /jobmanager/environment > "$work/jm-env.json"
if msg=$("$py" - "$work/budget.json" "$work/tm.json" "$work/jm-env.json" "$work/render.json" <<'EOF'
import json, sys
budget, tm, env, render = (json.load(open(p)) for p in sys.argv[1:5])
def breakdown(workload, container):
    return next(c["breakdown"] for c in budget["containers"] if c["workload"] == workload and c["container"] == container)
ours = breakdown("Deployment/flink-taskmanager", "taskmanager")
mem = tm["memoryConfiguration"]
pairs = [("framework_heap", "frameworkHeap"), ("task_heap", "taskHeap"), ("framework_off_heap", "frameworkOffHeap"),
         ("task_off_heap", "taskOffHeap"), ("network", "networkMemory"), ("managed", "managedMemory"),
         ("metaspace", "jvmMetaspace"), ("overhead", "jvmOverhead")]
wrong = [f"{a}: amctl {ours[a]} Flink {mem[b]}" for a, b in pairs if ours[a] != mem[b]]
cm = next(o for o in render["items"] if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "flink-config")
slots = int(next(l.split(":")[1] for l in cm["data"]["config.yaml"].splitlines() if l.startswith("taskmanager.numberOfTaskSlots:")))
if tm["slotsNumber"] != slots:
    wrong.append(f"slots: rendered {slots}, Flink {tm['slotsNumber']}")
jm = breakdown("Deployment/flink-jobmanager", "jobmanager")
xmx = next(int(o[4:]) for o in env["jvm"]["options"] if o.startswith("-Xmx"))
if xmx != jm["jvm_heap"]:
    wrong.append(f"JobManager -Xmx: amctl {jm['jvm_heap']} Flink {xmx}")
if wrong:
    print("; ".join(wrong)); sys.exit(1)
mib = lambda b: f"{b / 2**20:.0f}M"
print(f"{tm['slotsNumber']} slots; TaskManager pools " + ", ".join(f"{a} {mib(ours[a])}" for a, _ in pairs) + f"; JobManager -Xmx {mib(xmx)}")
EOF
); then
  ok "(i) flink: the REST API reports what amctl computed: $msg"
else
  bad "(i) flink: memory or slots differ from amctl's breakdown: $msg"
fi

# The job, compiled against the distribution and submitted from the JobManager's conf.
mkdir -p "$work/job/classes"
javac -d "$work/job/classes" -cp "$flink_home/lib/*" "$here/tests/flink/KeyedCount.java"
(cd "$work/job/classes" && jar cfe ../keyed-count.jar KeyedCount .)
if FLINK_CONF_DIR=$conf_jm "$flink_home/bin/flink" run -d "$work/job/keyed-count.jar" > "$work/run.log" 2>&1; then
  job=$(grep -o 'JobID [0-9a-f]*' "$work/run.log" | awk '{print $2}')
  ok "(i) flink: flink run submitted the keyed-state DataStream job ($job)"
else
  bad "(i) flink: flink run failed"; tail -20 "$work/run.log"; exit 1
fi
# The rendered interval (execution.checkpointing.interval) decides when the first one completes.
done_cp=""
for _ in $(seq 1 60); do
  cps=$(api "/jobs/$job/checkpoints" 2>/dev/null || true)
  state=$(api "/jobs/$job" 2>/dev/null | "$py" -c 'import json,sys; print(json.load(sys.stdin)["state"])' || true)
  if [ "$state" = FAILED ]; then break; fi
  if [ -n "$cps" ] && [ "$("$py" -c 'import json,sys; print(json.loads(sys.argv[1])["counts"]["completed"])' "$cps")" -ge 1 ]; then done_cp=1; break; fi
  sleep 5
done
if [ -n "$done_cp" ]; then
  api "/jobs/$job/checkpoints/config" > "$work/cp-config.json"
  if msg=$("$py" - "$cps" "$work/cp-config.json" "$work/shared/flink-checkpoints" <<'EOF'
import json, os, sys
cps, config, root = json.loads(sys.argv[1]), json.load(open(sys.argv[2])), sys.argv[3]
latest = cps["latest"]["completed"]
path = latest["external_path"].removeprefix("file:")
problems = []
if not path.startswith(root):
    problems.append(f"checkpoint at {path}, not in the rendered storage {root}")
if not os.path.isfile(os.path.join(path, "_metadata")):
    problems.append(f"no _metadata in {path}")
if "RocksDB" not in config.get("state_backend", ""):
    problems.append(f"state backend {config.get('state_backend')}")
if problems:
    print("; ".join(problems)); sys.exit(1)
print(f"checkpoint {latest['id']} ({latest['state_size']} bytes of {config['state_backend']} state) in {path}")
EOF
  ); then
    ok "(i) flink: a completed checkpoint: $msg"
  else
    bad "(i) flink: $msg"
  fi
  # RocksDB works in the rendered state.backend.rocksdb.localdir (the TaskManager's own volume),
  # its info logs beside it, not in Flink's log directory.
  if find "$work/taskmanager/flink-rocksdb" -name 'job_*' -type d | grep -q . &&
     find "$work/taskmanager/flink-rocksdb" -maxdepth 1 -name '*_LOG' | grep -q . &&
     ! find "$work/taskmanager/log" -name '*_LOG' | grep -q .; then
    ok "(i) flink: RocksDB works and logs in the rendered state.backend.rocksdb.localdir, on the TaskManager's own volume"
  else
    bad "(i) flink: RocksDB's files or info logs are not under the rendered state.backend.rocksdb.localdir"
    find "$work/taskmanager" -name '*LOG*' | head -5
  fi
else
  bad "(i) flink: no completed checkpoint (job state: ${state:-unknown})"
  api "/jobs/$job/exceptions" 2>/dev/null | head -c 2000 || true; tail -30 "$work/taskmanager.out"
fi

# A version upgrade's stop-with-savepoint, by the plan's own command: `amctl migrate` of a Flink
# image bump runs it in the JobManager pod (`kubectl exec ... -c jobmanager -- sh -c '...'`).
# Here it runs as written against this JobManager; mapped: /opt/flink/bin/flink to this
# distribution with the JobManager's conf, and the plan's s3:// savepoint directory to a local
# one (the sandbox has no S3). Then the job resumes from its savepoint, as the plan prints.
if [ -n "$done_cp" ] && [ "${AMCTL_FLINK_SABOTAGE:-}" != replace-config ]; then
  "$amctl" migrate prod prod --set 'flink.image="flink:2.2.0-scala_2.12-java17"' -o json > "$work/upgrade.json"
  savepoints=$work/shared/savepoints
  printf '#!/bin/sh\nFLINK_CONF_DIR=%s exec %s "$@"\n' "$conf_jm" "$flink_home/bin/flink" > "$work/flink-cli"
  chmod +x "$work/flink-cli"
  stop=$("$py" - "$work/upgrade.json" "$work/flink-cli" "file://$savepoints" <<'EOF'
import json, shlex, sys
plan, cli, target = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
cmd = next(c for s in plan["steps"] if s["object"]["kind"] == "FlinkJobs" for c in s["commands"] if "flink stop" in c)
words = shlex.split(cmd)
assert words[:2] == ["kubectl", "exec"] and words[words.index("-c") + 1] == "jobmanager", cmd
script = words[words.index("--") + 3]
print(script.replace("/opt/flink/bin/flink", cli).replace("s3://prod-checkpoints/savepoints", target))
EOF
  )
  if out=$(sh -c "$stop" 2>"$work/stop.err") && read -r stopped path <<<"$out" && [ "$stopped" = "$job" ] &&
     [ -f "${path#file:}/_metadata" ] &&
     [ "$(api "/jobs/$job" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["state"])')" = FINISHED ]; then
    ok "(i) flink: the upgrade plan's stop-with-savepoint stopped job $job with a savepoint at $path"
    if FLINK_CONF_DIR=$conf_jm "$flink_home/bin/flink" run -d -s "$path" "$work/job/keyed-count.jar" > "$work/resume.log" 2>&1; then
      resumed=$(grep -o 'JobID [0-9a-f]*' "$work/resume.log" | awk '{print $2}')
      restored=""
      for _ in $(seq 1 30); do
        restored=$(api "/jobs/$resumed/checkpoints" 2>/dev/null | "$py" -c 'import json,sys; r=json.load(sys.stdin)["latest"].get("restored") or {}; print(r.get("external_path", ""))' || true)
        [ -n "$restored" ] && break
        sleep 2
      done
      if [ "$restored" = "$path" ]; then
        ok "(i) flink: the job resumes from that savepoint, as the plan's last step says (job $resumed restored $restored)"
      else
        bad "(i) flink: the resumed job did not restore the savepoint (restored: ${restored:-nothing})"
      fi
    else
      bad "(i) flink: resuming from the savepoint failed"; tail -20 "$work/resume.log"
    fi
  else
    bad "(i) flink: the upgrade plan's stop-with-savepoint failed: ${out:-} $(tail -5 "$work/stop.err")"
  fi
fi
exit "$failed"
