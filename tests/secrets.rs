//! No rendered output carries a credential: amctl refers to Secrets, it never prints one.

use assert_cmd::Command;

fn run(args: &[&str]) -> String {
    let out = Command::cargo_bin("amctl")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
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
