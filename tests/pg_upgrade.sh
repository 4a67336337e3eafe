#!/usr/bin/env bash
# The PostgreSQL major upgrade's data path, run for real by the plan's own commands. Part of
# tests/conformance.sh.
#
#   tests/pg_upgrade.sh AMCTL PYTHON SERVER17 CLIENT17 SERVER18 CLIENT18 WORKDIR
#
# `amctl migrate prod prod --set postgres.image="postgres:18.1" --allow-data-migration -o json`
# plans the upgrade. This script plays both pods on this machine: PostgreSQL 17.6 (npm, the
# image postgres:17.6's version, with 17's client tools) holds a seeded database; PostgreSQL
# 18.1 (npm, the image postgres:18.1's, with 18's client tools from PyPI) is initialized empty,
# as the new pod's entrypoint initializes its new directory. Then every command of the plan's
# PostgresUpgrade steps runs as written, `kubectl exec ... postgres-0 -c postgres --` taken off:
# the steps before the StatefulSet's apply against 17 (its pod), the ones after against 18.
# Checked: 17 refuses writes once the plan made it read-only; the plan's row counts agree on both
# sides (its own `diff -u`), and so do counts taken here; a negative control (a row deleted on
# 18) makes the plan's comparison fail. Only where things are moves into this sandbox: the data
# volume's path and the sockets.
#
# Prints `ok ...` / `FAIL ...` lines; exits 1 when one failed.
set -euo pipefail
amctl=$1 py=$2 s17=$3 c17=$4 s18=$5 c18=$6 work=$7
failed=0
ok() { echo "ok   (b) postgres 17 → 18: $*"; }
bad() { failed=1; echo "FAIL (b) postgres 17 → 18: $*"; }
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- env PATH="$PATH" "$@"; else "$@"; fi; }
dir=$work/pg-upgrade
started=()
cleanup() {
  local s
  for s in "${started[@]}"; do as_pg "${s%%|*}/pg_ctl" -D "${s#*|}" -m immediate -w stop >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
rm -rf "$dir"
mkdir -p "$dir"/{17,18}/{sock,volume} "$dir/run"
chmod -R 777 "$dir"

"$amctl" migrate prod prod --set 'postgres.image="postgres:18.1"' --allow-data-migration -o json > "$dir/plan.json"
read -r user db < <("$amctl" show prod -o json | "$py" -c 'import json,sys; p=json.load(sys.stdin)["postgres"]; print(p["user"], p["database"])')

# Each server as its pod's entrypoint starts it: initdb with POSTGRES_USER, then POSTGRES_DB.
start() { # major server_bin
  local v=$1 bin=$2 port pgdata
  port=$(free_port)
  pgdata=$dir/$v/volume/pgdata
  as_pg "$bin/initdb" -D "$pgdata" --username="$user" --auth=trust > "$dir/$v/initdb.log" 2>&1
  as_pg "$bin/pg_ctl" -D "$pgdata" -l "$dir/$v/server.log" -w \
    -o "-c port=$port -c listen_addresses='' -c unix_socket_directories=$dir/$v/sock" start > /dev/null
  started+=("$bin|$pgdata")
  echo "$port" > "$dir/$v/port"
}
start 17 "$s17"
start 18 "$s18"
p17=$(cat "$dir/17/port") p18=$(cat "$dir/18/port")
PGHOST=$dir/17/sock PGPORT=$p17 "$c17/createdb" -U "$user" "$db"
PGHOST=$dir/18/sock PGPORT=$p18 "$c18/createdb" -U "$user" "$db"

# The platform's kind of data: segments, memberships with a foreign key, events as JSON, a
# sequence past its start, an index and a view.
PGHOST=$dir/17/sock PGPORT=$p17 "$c17/psql" -q -v ON_ERROR_STOP=1 -U "$user" -d "$db" <<'SQL'
CREATE SCHEMA audience;
CREATE TABLE audience.segments (id int PRIMARY KEY, name text NOT NULL UNIQUE, rules jsonb);
CREATE TABLE audience.memberships (user_id bigint, segment_id int REFERENCES audience.segments, since timestamptz DEFAULT now(), PRIMARY KEY (user_id, segment_id));
CREATE TABLE public.events (id bigserial PRIMARY KEY, payload jsonb, at timestamptz DEFAULT now());
CREATE INDEX events_kind ON public.events ((payload->>'kind'));
CREATE VIEW audience.segment_sizes AS SELECT segment_id, count(*) FROM audience.memberships GROUP BY 1;
INSERT INTO audience.segments SELECT i, 'segment-' || i, jsonb_build_object('min_age', i % 90) FROM generate_series(1, 500) i;
INSERT INTO audience.memberships (user_id, segment_id) SELECT u, 1 + (u * 7) % 500 FROM generate_series(1, 60000) u;
INSERT INTO public.events (payload) SELECT jsonb_build_object('kind', 'view', 'user', i) FROM generate_series(1, 40000) i;
SQL

# Runs the plan's PostgresUpgrade commands: before the StatefulSet's apply on 17, after it on 18.
"$py" - "$dir" "$c17" "$c18" "$p17" "$p18" <<'EOF' > "$dir/run.log" 2>&1 || true
import json, os, shlex, subprocess, sys
d, c17, c18, p17, p18 = sys.argv[1:]
plan = json.load(open(f"{d}/plan.json"))
steps = plan["steps"]
apply = next(i for i, s in enumerate(steps) if s["object"] == {"kind": "StatefulSet", "namespace": "audience-manager", "name": "postgres"} and s["action"] == "apply")
ran = []
for i, s in enumerate(steps):
    if s["object"]["kind"] != "PostgresUpgrade" or s["action"] != "exec":
        continue
    assert not s["refused"], s
    v, client, port = ("17", c17, p17) if i < apply else ("18", c18, p18)
    env = dict(os.environ, PATH=f"{client}:{os.environ['PATH']}", PGHOST=f"{d}/{v}/sock", PGPORT=port, PGDATA=f"{d}/{v}/volume/pgdata")
    for cmd in s["commands"]:
        words = shlex.split(cmd)
        stdin = stdout = None
        if len(words) > 2 and words[-2] == ">":
            stdout, words = open(f"{d}/run/{words[-1]}", "w"), words[:-2]
        if len(words) > 2 and words[-2] == "<":
            stdin, words = open(f"{d}/run/{words[-1]}", "rb"), words[:-2]
        if words[:2] == ["kubectl", "exec"]:
            assert "postgres-0" in words and words[words.index("-c") + 1] == "postgres", cmd
            words = words[words.index("--") + 1:]
        words = [w.replace("/var/lib/postgresql/data", f"{d}/{v}/volume") for w in words]
        r = subprocess.run(words, env=env, cwd=f"{d}/run", stdin=stdin, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE)
        out = r.stdout.decode() if r.stdout else ""
        print(f"{'ok' if r.returncode == 0 else 'FAILED'} on {v}: {cmd[:100]}\n{out}{r.stderr.decode()}")
        ran.append((i, v, words[0], r.returncode))
        if r.returncode != 0:
            print(json.dumps(ran)); sys.exit(1)
print(json.dumps(ran))
EOF
ran=$(tail -n 1 "$dir/run.log")
if grep -q '^FAILED' "$dir/run.log"; then
  bad "a command of the plan failed:"; grep -A5 '^FAILED' "$dir/run.log" | head -20
else
  n=$("$py" -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$ran")
  ok "the plan's $n upgrade commands ran: room check, read-only, row counts, pg_dump on 17.6; pg_restore, row counts, diff on 18.1"
fi

# Writes stopped on 17 once the plan made it read-only.
if PGHOST=$dir/17/sock PGPORT=$p17 "$c17/psql" -q -U "$user" -d "$db" -c "INSERT INTO public.events (payload) VALUES ('{}')" > "$dir/ro.log" 2>&1; then
  bad "PostgreSQL 17 still took a write after the plan's read-only step"
elif grep -q "read-only transaction" "$dir/ro.log"; then
  ok "PostgreSQL 17 refuses writes after the plan's read-only step ($(head -c 80 "$dir/ro.log"))"
else
  bad "the write failed for another reason: $(cat "$dir/ro.log")"
fi

# The counts, independently: every table on both sides.
count() { PGHOST=$dir/$1/sock PGPORT=$2 "$3/psql" -At -U "$user" -d "$db" -c \
  "SELECT (SELECT count(*) FROM audience.segments) || ' ' || (SELECT count(*) FROM audience.memberships) || ' ' || (SELECT count(*) FROM public.events) || ' ' || (SELECT last_value FROM public.events_id_seq) || ' ' || (SELECT count(*) FROM audience.segment_sizes)"; }
a=$(count 17 "$p17" "$c17") b=$(count 18 "$p18" "$c18" 2>&1 || true)
if [ "$a" = "$b" ] && [ "$a" = "500 60000 40000 40000 500" ]; then
  ok "rows on 17.6 and 18.1: segments, memberships, events, the sequence, the view: $a"
else
  bad "17.6 has $a, 18.1 has $b"
fi
if diff -q "$dir/run/postgres-17.6-rows.txt" "$dir/run/postgres-18.1-rows.txt" >/dev/null && [ "$(wc -l < "$dir/run/postgres-17.6-rows.txt")" = 3 ]; then
  ok "the plan's own counts agree: $(tr '\n' ',' < "$dir/run/postgres-18.1-rows.txt")"
else
  bad "the plan's counts: $(cat "$dir/run/postgres-17.6-rows.txt" "$dir/run/postgres-18.1-rows.txt" 2>&1)"
fi
# 18 is PostgreSQL 18 with the data, and takes writes.
if PGHOST=$dir/18/sock PGPORT=$p18 "$c18/psql" -At -U "$user" -d "$db" -c "SELECT current_setting('server_version_num')::int / 10000; INSERT INTO public.events (payload) VALUES ('{}')" 2>&1 | grep -qx 18; then
  ok "PostgreSQL 18.1 serves the restored database and takes writes"
else
  bad "PostgreSQL 18.1 does not take writes"
fi

# Negative control: a row lost on 18 must make the plan's comparison fail.
PGHOST=$dir/18/sock PGPORT=$p18 "$c18/psql" -q -U "$user" -d "$db" -c "DELETE FROM audience.memberships WHERE user_id = 1"
cmd=$("$py" -c '
import json, sys
steps = json.load(open(sys.argv[1]))["steps"]
print(next(c for s in steps if s["object"]["kind"] == "PostgresUpgrade" for c in s["commands"] if "rows.txt" in c and ">" in c and "18.1" in c))' "$dir/plan.json")
sql=$("$py" -c 'import shlex,sys; w=shlex.split(sys.argv[1]); print(w[len(w) - w[::-1].index("-c")])' "$cmd")
PGHOST=$dir/18/sock PGPORT=$p18 "$c18/psql" -v ON_ERROR_STOP=1 -At -U "$user" -d "$db" -c "$sql" > "$dir/run/tampered.txt"
if diff -u "$dir/run/postgres-17.6-rows.txt" "$dir/run/tampered.txt" > /dev/null; then
  bad "negative control: a deleted row went unnoticed by the plan's counts"
else
  ok "negative control: a row deleted on 18.1 makes the plan's counts differ"
fi
exit "$failed"
