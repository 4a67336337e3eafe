//! No rendered output carries a credential: amctl refers to Secrets, it never prints one.

fn run(args: &[&str]) -> String {
    let out = crate::common::amctl().args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Lines that look like they hold a credential, with why.
fn findings(text: &str) -> Vec<String> {
    // Config files inside JSON strings: scan their lines too.
    let text = text.replace("\\n", "\n").replace("\\\"", "\"");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        let lower = l.to_ascii_lowercase();
        let mut hit = |why: &str| out.push(format!("line {}: {why}: {l}", i + 1));
        if l.contains("PRIVATE KEY-----") {
            hit("private key");
        }
        if l.contains("AKIA")
            && l.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w.len() == 20 && w.starts_with("AKIA"))
        {
            hit("AWS access key id");
        }
        if lower.starts_with("kind: secret") || lower.contains("\"kind\": \"secret\"") {
            hit("a Secret object");
        }
        for key in [
            "password",
            "passwd",
            "secret_access_key",
            "token",
            "api_key",
            "apikey",
        ] {
            for sep in [":", "="] {
                let needle = format!("{key}{sep}");
                // The key as a word: `automountServiceAccountToken` is not a token.
                let Some(pos) = lower
                    .match_indices(&needle)
                    .map(|(p, _)| p)
                    .find(|p| *p == 0 || !lower.as_bytes()[p - 1].is_ascii_alphanumeric())
                else {
                    continue;
                };
                let value = l[pos + key.len() + 1..]
                    .trim()
                    .trim_matches(|c| c == '"' || c == '\'' || c == ',');
                // References are fine: env vars, secret names, empty values, field names.
                let reference = value.is_empty()
                    || value.starts_with("${")
                    || value.starts_with("$(")
                    || value.starts_with('{')
                    || value.starts_with('[')
                    || value == "null"
                    || value == "true"
                    || value == "false"
                    || value.ends_with("-credentials")
                    || value.ends_with("-secret")
                    || value == "password"
                    || value == "scram-sha-256";
                if !reference {
                    hit(&format!("a literal `{key}` value"));
                }
            }
        }
    }
    out
}

#[test]
fn the_scanner_catches_what_it_should() {
    assert!(!findings("password: hunter2hunter2").is_empty());
    assert!(!findings("  POSTGRES_PASSWORD=s3cr3t-value").is_empty());
    assert!(!findings("-----BEGIN RSA PRIVATE KEY-----").is_empty());
    assert!(!findings("kind: Secret").is_empty());
    assert!(!findings("key: AKIAIOSFODNN7EXAMPLE").is_empty());
    assert!(findings("password: \"${POSTGRES_PASSWORD}\"").is_empty());
    assert!(findings("password_encryption = 'scram-sha-256'").is_empty());
    assert!(findings("name: postgres-credentials").is_empty());
}

#[test]
fn no_rendered_output_holds_a_credential() {
    let profiles = [
        "demo",
        "prod",
        "examples/laptop-16gb.toml",
        "examples/staging.toml",
        "examples/spec-literal-demo.toml",
        "examples/spec-literal-prod.toml",
    ];
    let mut outputs = Vec::new();
    for p in profiles {
        outputs.push((
            format!("render {p}"),
            run(&["render", p, "--skip-validation"]),
        ));
        outputs.push((
            format!("render {p} -o json"),
            run(&["render", p, "--skip-validation", "-o", "json"]),
        ));
        outputs.push((format!("show {p}"), run(&["show", p])));
        outputs.push((
            format!("budget {p} -o json"),
            run(&["budget", p, "-o", "json"]),
        ));
    }
    for (from, to) in [("demo", "prod"), ("prod", "demo")] {
        for fmt in ["apply", "script", "patches"] {
            outputs.push((
                format!("migrate {from} {to} --format {fmt}"),
                run(&[
                    "migrate",
                    from,
                    to,
                    "--format",
                    fmt,
                    "--allow-data-loss",
                    "--prune",
                ]),
            ));
        }
        outputs.push((format!("diff {from} {to}"), run(&["diff", from, to])));
    }
    let mut problems = Vec::new();
    for (what, text) in &outputs {
        assert!(!text.is_empty(), "{what} printed nothing");
        for f in findings(text) {
            problems.push(format!("{what}: {f}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `amctl secrets` output for `args`, checked to succeed.
fn secrets_script(args: &[&str]) -> String {
    let out = crate::common::amctl()
        .arg("secrets")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "amctl secrets {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every (Secret, key) the render of `args` refers to that no rendered Certificate issues:
/// pod volumes (secret, projected), environment references, ingress TLS, key store passwords.
fn referred(args: &[&str]) -> std::collections::BTreeSet<(String, Option<String>)> {
    use serde_json::Value;
    let out = crate::common::amctl()
        .args(["render", "-o", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut refs = std::collections::BTreeSet::new();
    let mut issued = std::collections::BTreeSet::new();
    fn walk(v: &Value, refs: &mut std::collections::BTreeSet<(String, Option<String>)>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("secretKeyRef") {
                    refs.insert((
                        r["name"].as_str().unwrap().into(),
                        r["key"].as_str().map(String::from),
                    ));
                }
                if let Some(r) = m.get("passwordSecretRef") {
                    refs.insert((
                        r["name"].as_str().unwrap().into(),
                        r["key"].as_str().map(String::from),
                    ));
                }
                if let Some(s) = m.get("secret").filter(|s| s.is_object()) {
                    let name = s["secretName"]
                        .as_str()
                        .or(s["name"].as_str())
                        .unwrap()
                        .to_string();
                    match s["items"].as_array() {
                        Some(items) => {
                            for i in items {
                                refs.insert((name.clone(), i["key"].as_str().map(String::from)));
                            }
                        }
                        None => {
                            refs.insert((name, None));
                        }
                    }
                }
                for (_, x) in m {
                    walk(x, refs);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, refs)),
            _ => {}
        }
    }
    for o in list["items"].as_array().unwrap() {
        match o["kind"].as_str().unwrap() {
            "Certificate" => {
                issued.insert(o["spec"]["secretName"].as_str().unwrap().to_string());
            }
            "Ingress" => {
                for t in o["spec"]["tls"].as_array().into_iter().flatten() {
                    refs.insert((t["secretName"].as_str().unwrap().into(), None));
                }
            }
            _ => {}
        }
        walk(o, &mut refs);
    }
    refs.retain(|(name, _)| !issued.contains(name));
    refs
}

/// Row 12 of issue 15: pods wait forever on a fresh cluster for the Secrets they mount. The
/// script `amctl secrets` prints creates each one, with each key the pods read, through the
/// real kubectl (`create secret ... --dry-run=client`, which validates the arguments offline);
/// an existing Secret is left alone, a missing outside value stops the script before it
/// creates anything, and no value appears in what it prints.
#[test]
fn the_secrets_script_creates_every_secret_the_render_refers_to() {
    let kubectl = ["/usr/local/bin/kubectl", "/usr/bin/kubectl"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("kubectl (it ships on the machine image; .ci/run checks for it)");
    let dir = std::env::temp_dir().join(format!("amctl-secrets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    // Prod without a cert-manager issuer: the certificates become Secrets the user provides.
    let prod = std::fs::read_to_string("profiles/prod.toml").unwrap();
    let no_issuer = dir.join("no-issuer.toml");
    std::fs::write(
        &no_issuer,
        prod.lines()
            .filter(|l| !l.starts_with("tls_issuer"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let no_issuer = no_issuer.to_str().unwrap().to_string();
    let shim = dir.join("bin/kubectl");
    std::fs::write(
        &shim,
        format!(
            "#!/usr/bin/env bash\n\
             args=(\"$@\"); [ \"${{args[0]}}\" = -n ] && args=(\"${{args[@]:2}}\")\n\
             case \"${{args[0]}} ${{args[1]}}\" in\n\
             \x20 'get secret') [[ \" $EXISTING \" == *\" ${{args[2]}} \"* ]]; exit ;;\n\
             \x20 'get namespace') exit 0 ;;\n\
             \x20 'create secret') exec {kubectl} \"$@\" --dry-run=client -o json >> \"$RECORD\" ;;\n\
             \x20 *) echo \"unexpected: kubectl $*\" >&2; exit 2 ;;\n\
             esac\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let enterprise = [
        "--set",
        "aerospike.image=aerospike/aerospike-server-enterprise:8.0.0.10",
        "--set",
        "aerospike.feature_key_secret=aerospike-features",
    ];
    let s3_backup = "postgres.backup={ retention_days = 7, s3 = { url = \"s3://b/pg\", credentials_secret = \"pg-backup-s3\" } }";
    let variants: Vec<Vec<&str>> = vec![
        vec!["demo"],
        vec!["prod"],
        vec![&no_issuer],
        [vec!["prod"], enterprise.to_vec()].concat(),
        vec!["demo", "--set", s3_backup],
        vec![
            "prod",
            "--set",
            "security.api_auth=none",
            "--set",
            "security.tls=false",
        ],
    ];
    for args in variants {
        let want = referred(&args);
        assert!(
            !want.is_empty() || args.contains(&"security.api_auth=none"),
            "{args:?}"
        );
        let script = dir.join("secrets.sh");
        std::fs::write(&script, secrets_script(&args)).unwrap();
        // Outside values, as the user would export them: environment variables and files.
        let mut envs: Vec<(String, String)> = Vec::new();
        for line in std::fs::read_to_string(&script).unwrap().lines() {
            if let Some(rest) = line.trim().strip_prefix("[ -n \"${") {
                envs.push((
                    rest.split(':').next().unwrap().to_string(),
                    "from-the-user".into(),
                ));
            }
            if let Some(rest) = line.trim().strip_prefix("[ -r \"${") {
                let var = rest.split(':').next().unwrap().to_string();
                let file = dir.join(&var);
                std::fs::write(&file, "file-from-the-user").unwrap();
                envs.push((var, file.to_str().unwrap().to_string()));
            }
        }
        let record = dir.join("record.json");
        let _ = std::fs::remove_file(&record);
        let run = |existing: &str, envs: &[(String, String)]| {
            std::process::Command::new("bash")
                .arg(&script)
                .env(
                    "PATH",
                    format!(
                        "{}:{}",
                        dir.join("bin").display(),
                        std::env::var("PATH").unwrap()
                    ),
                )
                .env("EXISTING", existing)
                .env("RECORD", &record)
                .envs(envs.iter().map(|(k, v)| (k, v)))
                .output()
                .unwrap()
        };
        // A missing outside value: nothing is created.
        if !envs.is_empty() {
            let out = run("", &envs[1..]);
            assert!(!out.status.success(), "{args:?}");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains(&envs[0].0),
                "{args:?}"
            );
            assert!(
                !record.exists(),
                "{args:?}: created Secrets before checking the inputs"
            );
        }
        let out = run("", &envs);
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {printed}");
        let text = std::fs::read_to_string(&record).unwrap_or_default();
        let mut created =
            std::collections::BTreeMap::<String, serde_json::Map<String, serde_json::Value>>::new();
        let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
        for secret in stream.by_ref() {
            let secret = secret.unwrap();
            assert_eq!(secret["metadata"]["namespace"], "audience-manager");
            created.insert(
                secret["metadata"]["name"].as_str().unwrap().into(),
                secret["data"].as_object().unwrap().clone(),
            );
        }
        for (name, key) in &want {
            let data = created.get(name).unwrap_or_else(|| {
                panic!("{args:?}: {name} not created; created {:?}", created.keys())
            });
            if let Some(key) = key {
                let value = data
                    .get(key)
                    .unwrap_or_else(|| panic!("{args:?}: {name} lacks key {key}"));
                assert!(
                    !value.as_str().unwrap().is_empty(),
                    "{args:?}: {name}.{key} is empty"
                );
                // Generated values never reach the terminal.
                let plain = String::from_utf8(base64_decode(value.as_str().unwrap())).unwrap();
                assert!(plain.len() >= 5);
                assert!(
                    !printed.contains(&plain),
                    "{args:?}: {name}.{key} was printed"
                );
            }
        }
        assert_eq!(
            created
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>(),
            want.iter().map(|(n, _)| n.clone()).collect(),
            "{args:?}: exactly the Secrets the render refers to"
        );
        // Existing Secrets are left as they are.
        let _ = std::fs::remove_file(&record);
        let all: Vec<String> = created.keys().cloned().collect();
        let out = run(&all.join(" "), &[]);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !record.exists(),
            "{args:?}: an existing Secret was created again"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        acc = acc << 6 | ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The script names where each value comes from and holds none: every `--from-file` reads a
/// generator or an environment variable through a pipe, and `--from-literal` carries only the
/// user name.
#[test]
fn the_secrets_script_holds_no_value() {
    for p in [
        "demo",
        "prod",
        "examples/staging.toml",
        "examples/prod-aws.toml",
    ] {
        let script = secrets_script(&[p]);
        let mut creates = 0;
        for line in script.lines().map(str::trim) {
            if let Some(arg) = line.strip_prefix("--from-file=") {
                let source = arg.split_once('=').unwrap().1.trim_end_matches(" \\");
                let from_pipe = source.starts_with("<(random ")
                    || source.starts_with("<(printf '%s' \"$")
                    || (source.starts_with("\"$") && source.ends_with('"'));
                assert!(from_pipe, "{p}: {line}");
                creates += 1;
            }
            if let Some(arg) = line.strip_prefix("--from-literal=") {
                assert!(arg.starts_with("username="), "{p}: {line}");
            }
        }
        assert!(creates >= 1, "{p}: {script}");
    }
}
