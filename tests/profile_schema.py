#!/usr/bin/env python3
"""Every built-in profile and example validates against `amctl schema` (JSON Schema draft-07):
complete profiles as written; overlays (`extends`) as written against `amctl schema --partial`
and resolved (`amctl show -o json`) against the full schema. A negative control proves the
schema rejects an unknown key.

Usage: profile_schema.py AMCTL
"""
import glob
import json
import subprocess
import sys
import tomllib

import jsonschema

amctl = sys.argv[1]
full = json.loads(subprocess.run([amctl, "schema"], capture_output=True, check=True).stdout)
partial = json.loads(subprocess.run([amctl, "schema", "--partial"], capture_output=True, check=True).stdout)
checker = jsonschema.Draft7Validator
checker.check_schema(full)
checker.check_schema(partial)

failed = 0
for path in sorted(glob.glob("profiles/*.toml") + glob.glob("examples/*.toml")):
    with open(path, "rb") as f:
        data = tomllib.load(f)
    checks = []
    if "extends" in data:
        checks.append(("as written, overlay schema", partial, data))
        shown = subprocess.run([amctl, "show", path, "-o", "json"], capture_output=True, check=True).stdout
        checks.append(("resolved", full, json.loads(shown)))
    else:
        checks.append(("as written", full, data))
    for label, schema, doc in checks:
        errors = sorted(checker(schema).iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            failed += 1
            print(f"FAIL {path} ({label}): {errors[0].message} at {list(errors[0].path)}")
        else:
            print(f"ok   {path} ({label})")

bad = dict(tomllib.loads(open("profiles/demo.toml").read()))
bad["kafka"] = dict(bad["kafka"], brokerz=3)
if list(checker(full).iter_errors(bad)):
    print("ok   negative control: an unknown key is rejected")
else:
    failed += 1
    print("FAIL negative control: an unknown key passed")
sys.exit(1 if failed else 0)
