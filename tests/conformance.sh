#!/usr/bin/env bash
# Conformance: amctl's output checked against the real things, not our idea of them.
#
#   (a) every object of every built-in profile and example passes the official Kubernetes 1.30
#       OpenAPI schemas in strict mode (PyPI kubernetes-validate; unknown fields are errors),
#       with a negative control proving the check can fail;
#   (b) a real PostgreSQL starts with each rendered postgresql.conf, and SHOW agrees with the
#       profile for shared_buffers, max_connections, effective_cache_size and work_mem;
#   (c) `kubectl kustomize` builds every --out-dir render, object for object;
#   (d) two renders are byte-identical.
#
# Usage: tests/conformance.sh [path/to/amctl]   (default: target/release/amctl)
# Needs: python3 (venv), kubectl, PostgreSQL server binaries. .ci/run installs them.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
amctl=${1:-target/release/amctl}
[ -x "$amctl" ] || { echo "conformance: no amctl binary at $amctl (cargo build --release)" >&2; exit 2; }
amctl=$(realpath "$amctl")
k8s_version=1.30.0
work=$(mktemp -d)
pg_up=""
cleanup() {
  if [ -n "$pg_up" ]; then as_pg "$pg_bin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# ---------------------------------------------------------------- tools
venv=${AMCTL_VENV:-$here/.venv}
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/checkov" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
fi
py=$venv/bin/python
# The published CRD schemas (cert-manager, Prometheus Operator) as validators, from npm.
if [ ! -d tests/crd/node_modules/@kubernetes-models/prometheus-operator ]; then
  (cd tests/crd && npm ci --silent --no-audit --no-fund >/dev/null)
fi
# Core kinds: Kubernetes strict schemas; custom resources: their CRD schemas.
schemas() { "$py" tests/validate_stream.py "$venv/bin" "$k8s_version" "$1"; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pg_bin/postgres" ] || { echo "conformance: no PostgreSQL server binaries under /usr/lib/postgresql" >&2; exit 2; }

profiles=(demo prod examples/*.toml)
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

# ---------------------------------------------------------------- (b) real PostgreSQL
pg_user=postgres
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi; }
pgdata=$work/pgdata
mkdir -p "$pgdata" "$work/pgsock"
if [ "$(id -u)" = 0 ]; then chown -R "$pg_user" "$work"; chmod 755 "$work"; fi
as_pg "$pg_bin/initdb" -D "$pgdata" -U postgres --auth=trust >/dev/null
# A free loopback port, so a stray server elsewhere cannot answer for ours.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for p in "${profiles[@]}"; do
  name=$(basename "$p" .toml)
  conf=$work/$name-pg/postgresql.conf
  mkdir -p "$work/$name-pg/tls"
  # The rendered postgresql.conf and pg_hba.conf as-is; only the directories they name move
  # into this sandbox (the ConfigMap's mount and the TLS Secret's mount).
  "$py" - "$work/$name.yaml" "$work/$name-pg" <<'EOF'
import sys, yaml
out = sys.argv[2]
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap" and "postgresql.conf" in d.get("data", {}):
        for key in ("postgresql.conf", "pg_hba.conf", "10-replication.sql"):
            if key not in d["data"]:
                continue
            text = (d["data"][key].replace("/etc/postgresql-tls/", out + "/tls/")
                    .replace("/etc/postgresql/", out + "/")
                    .replace("/run/secrets/postgres/", out + "/"))
            open(f"{out}/{key}", "w").write(text)
        break
else:
    sys.exit("no postgresql.conf in the render")
EOF
  tls=""
  if grep -q "^ssl = on" "$conf"; then
    tls=1
    # A CA and a server certificate as cert-manager would issue them (tls.crt, tls.key, ca.crt).
    (cd "$work/$name-pg/tls" &&
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=amctl-test-ca" 2>/dev/null &&
      openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj "/CN=postgres" 2>/dev/null &&
      openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 2 \
        -extfile <(printf 'subjectAltName=DNS:localhost,DNS:postgres\n') 2>/dev/null &&
      chmod 600 tls.key)
  fi
  if [ "$(id -u)" = 0 ]; then chown -R "$pg_user" "$work/$name-pg"; fi
  "$amctl" show "$p" -o json > "$work/$name-profile.json"
  # The rendered file as-is; only where the server listens is moved to this sandbox.
  up=""
  if as_pg "$pg_bin/pg_ctl" -D "$pgdata" -l "$work/$name-pg.log" -w -t 30 start \
      -o "-c config_file=$conf -c port=$port -c unix_socket_directories=$work/pgsock -c listen_addresses=127.0.0.1" >/dev/null; then
    up=1; pg_up=1
  fi
  if [ -z "$up" ]; then
    bad "(b) $p: PostgreSQL did not start with the rendered postgresql.conf"; tail -5 "$work/$name-pg.log"
  else
    # Over the socket: the rendered pg_hba.conf trusts only the pod-local socket.
    psql_sock() { as_pg "$pg_bin/psql" -h "$work/pgsock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
    show() { as_pg "$pg_bin/psql" -h "$work/pgsock" -p "$port" -U postgres -d postgres -Atc "SHOW $1"; }
    hba_errors=$(as_pg "$pg_bin/psql" -h "$work/pgsock" -p "$port" -U postgres -d postgres -Atc \
      "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL")
    hba_lines=$(as_pg "$pg_bin/psql" -h "$work/pgsock" -p "$port" -U postgres -d postgres -Atc \
      "SELECT count(*) FROM pg_hba_file_rules")
    if [ "$hba_errors" = 0 ] && [ "$hba_lines" -gt 0 ]; then
      ok "(b) $p: the server loads the rendered pg_hba.conf ($hba_lines rules, none in error)"
    else
      bad "(b) $p: pg_hba.conf: $hba_errors of $hba_lines rules in error"
    fi
    if [ -n "$tls" ]; then
      # A TLS client over the network gets asked for a password (scram), never trusted.
      reply=$(as_pg env PGPASSWORD=wrong "$pg_bin/psql" "host=127.0.0.1 port=$port dbname=postgres user=postgres sslmode=require" -Atc "SELECT 1" 2>&1 || true)
      if [ "$(show ssl)" = on ] && grep -q "password authentication failed" <<<"$reply"; then
        ok "(b) $p: ssl = on with the certificate files; a TLS client meets scram-sha-256, not trust"
      else
        bad "(b) $p: TLS is off, or a network client was not asked for a password: $reply"
      fi
    fi
    result=$("$py" - "$work/$name-profile.json" \
      "$(show shared_buffers)" "$(show max_connections)" "$(show effective_cache_size)" "$(show work_mem)" <<'EOF'
import json, re, sys
pg = json.load(open(sys.argv[1]))["postgres"]
units = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "8kB": 8192}
def to_bytes(s):
    m = re.fullmatch(r"(\d+)(kB|MB|GB|TB|B)", s)
    return int(m.group(1)) * units[m.group(2)]
checks = [
    ("shared_buffers", to_bytes(pg["shared_buffers"]), to_bytes(sys.argv[2])),
    ("max_connections", pg["max_connections"], int(sys.argv[3])),
    ("effective_cache_size", to_bytes(pg["effective_cache_size"]), to_bytes(sys.argv[4])),
    ("work_mem", to_bytes(pg["work_mem"]), to_bytes(sys.argv[5])),
]
wrong = [f"{k}: profile {a} server {b}" for k, a, b in checks if a != b]
print("; ".join(wrong) if wrong else "shared_buffers=%s max_connections=%s" % (pg["shared_buffers"], pg["max_connections"]))
sys.exit(1 if wrong else 0)
EOF
    ) && ok "(b) $p: PostgreSQL $(basename "$(dirname "$pg_bin")") accepts postgresql.conf; $result" \
      || bad "(b) $p: $result"
  fi
  if [ -n "$up" ] && [ -f "$work/$name-pg/10-replication.sql" ]; then
    # Streaming replication for real: the rendered role script (twice: it is idempotent), then a
    # standby cloned by pg_basebackup as the role, over TLS when the profile has it, through the
    # rendered pg_hba.conf, started with the same postgresql.conf on another port.
    printf 'amctl-test-replication' > "$work/$name-pg/replication-password"
    if [ "$(id -u)" = 0 ]; then chown "$pg_user" "$work/$name-pg/replication-password"; fi
    psql_sock -q -f "$work/$name-pg/10-replication.sql" >/dev/null && psql_sock -q -f "$work/$name-pg/10-replication.sql" >/dev/null
    standby=$work/$name-standby
    sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    sslmode=disable; [ -n "$tls" ] && sslmode=require
    if [ "$(psql_sock -Atc "SELECT rolreplication FROM pg_roles WHERE rolname = 'replicator'")" = t ] &&
       as_pg env PGPASSWORD=amctl-test-replication "$pg_bin/pg_basebackup" \
         -d "postgresql://replicator@127.0.0.1:$port/postgres?sslmode=$sslmode" -D "$standby" -R -X stream --checkpoint=fast >/dev/null 2>"$work/$name-basebackup.log" &&
       as_pg "$pg_bin/pg_ctl" -D "$standby" -l "$work/$name-standby.log" -w -t 60 start \
         -o "-c config_file=$conf -c port=$sport -c unix_socket_directories=$work/pgsock -c listen_addresses=127.0.0.1" >/dev/null; then
      sleep 1
      recovering=$(as_pg "$pg_bin/psql" -h "$work/pgsock" -p "$sport" -U postgres -d postgres -Atc "SELECT pg_is_in_recovery()")
      streaming=$(psql_sock -Atc "SELECT count(*) FROM pg_stat_replication WHERE usename = 'replicator' AND state = 'streaming'")
      as_pg "$pg_bin/pg_ctl" -D "$standby" -m fast -w stop >/dev/null
      if [ "$recovering" = t ] && [ "$streaming" = 1 ]; then
        ok "(b) $p: a standby cloned by pg_basebackup as replicator${tls:+ over TLS} streams from the primary (pg_is_in_recovery, pg_stat_replication)"
      else
        bad "(b) $p: the standby runs but does not stream (in recovery: $recovering, streaming: $streaming)"
      fi
    else
      bad "(b) $p: replication role or pg_basebackup failed"; cat "$work/$name-basebackup.log" 2>/dev/null | tail -5; tail -5 "$work/$name-standby.log" 2>/dev/null
    fi
  fi
  if [ -n "$up" ] && grep -q "name: postgres-backup$" "$work/$name.yaml"; then
    # The rendered backup script for real: pg_dump of this server (over TLS with verify-full when
    # the profile has TLS), the dump readable by pg_restore, and retention deleting an old dump.
    bdir=$work/$name-backups
    mkdir -p "$bdir"
    psql_sock -q -c "ALTER ROLE postgres PASSWORD 'amctl-test-backup'" >/dev/null
    printf 'amctl-test-backup' > "$work/$name-pg/backup-password"
    "$py" - "$work/$name.yaml" "$work/$name-pg" "$bdir" "$port" <<'EOF'
import re, sys, yaml
out, bdir, port = sys.argv[2], sys.argv[3], sys.argv[4]
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap" and d["metadata"]["name"] == "postgres-backup":
        text = d["data"]["backup.sh"]
        # Only where things are moves: this server, its user, this sandbox's paths.
        text = re.sub(r"postgresql://[^@]+@[^:/]+:\d+/", f"postgresql://postgres@localhost:{port}/", text)
        text = (text.replace("/backups", bdir)
                .replace("/run/secrets/postgres/password", out + "/backup-password")
                .replace("/etc/postgresql-tls/", out + "/tls/"))
        open(f"{out}/backup.sh", "w").write(text)
EOF
    db=$(grep -o 'postgresql://[^"]*' "$work/$name-pg/backup.sh" | head -n 1 | sed 's#.*/##')
    psql_sock -q -c "CREATE DATABASE \"$db\"" >/dev/null 2>&1 || true
    old="$bdir/$db-20000101T000000Z.dump"
    : > "$old"; touch -d '40 days ago' "$old"
    if [ "$(id -u)" = 0 ]; then chown -R "$pg_user" "$bdir" "$work/$name-pg"; fi
    if as_pg sh "$work/$name-pg/backup.sh" > "$work/$name-backup.log" 2>&1 &&
       dump=$(ls "$bdir"/"$db"-*.dump | grep -v 20000101) &&
       as_pg "$pg_bin/pg_restore" --list "$dump" >/dev/null && [ ! -e "$old" ]; then
      ok "(b) $p: the backup script dumps over ${tls:+TLS (verify-full) }to $(basename "$dump"), pg_restore reads it, retention deleted the 40-day-old dump"
    else
      bad "(b) $p: backup script"; tail -5 "$work/$name-backup.log"
    fi
  fi
  if [ -n "$up" ]; then as_pg "$pg_bin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null; pg_up=""; fi
done

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
for p in demo prod examples/laptop-16gb.toml examples/staging.toml examples/prod-aws.toml; do
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
# Every shell script amctl puts in a ConfigMap (start-up, clone, backup, upload) passes sh -n /
# bash -n and shellcheck, for each profile and for backups to S3.
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
  n=0; fails=""
  for f in "$dir"/*.sh; do
    n=$((n + 1))
    shell=sh; head -n 1 "$f" | grep -q bash && shell=bash
    if ! { $shell -n "$f" && shellcheck -s "$shell" "$f"; } >"$f.log" 2>&1; then fails="$fails $(basename "$f")"; cat "$f.log" | head -20; fi
  done
  if [ -z "$fails" ]; then ok "(h) $variant: $n rendered scripts pass $([ -n "$n" ] && echo "-n and shellcheck")"
  else bad "(h) $variant: scripts fail shellcheck:$fails"; fi
done

echo
echo "conformance: $passed passed, $failed failed"
[ "$failed" = 0 ]
