//! Sizes and quantities as each system spells them.
//!
//! Four notations meet in one profile and they disagree about the same letters:
//! Kubernetes `800m` is 0.8, the JVM's `800m` is 800 MiB, PostgreSQL wants `800MB` (case-sensitive)
//! and Aerospike writes `800M`. Each has its own type here so a value can never be read in the
//! wrong notation, and each keeps the text the user wrote so output echoes it unchanged.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

const KI: i128 = 1024;

/// A Kubernetes resource quantity (`512Mi`, `1.5Gi`, `250m`, `2`), exact to the nano-unit.
#[derive(Clone, Debug)]
pub struct Quantity {
    text: String,
    /// Value × 10⁹; i128 holds `Ei` × 10⁹ with room to spare.
    nanos: i128,
}

impl Quantity {
    /// Parses the Kubernetes quantity grammar: a signed decimal number, an optional exponent
    /// (`1e3`) and an optional binary (`Ki`..`Ei`) or decimal (`n`,`u`,`m`,`k`,`M`..`E`) suffix.
    pub fn parse(text: &str) -> Result<Quantity, String> {
        let s = text.trim();
        if s.is_empty() {
            return Err("an empty quantity".into());
        }
        if s != text {
            return Err(format!("`{text}` has surrounding spaces; write `{s}`"));
        }
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let num_end = body
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(body.len());
        let (number, suffix) = body.split_at(num_end);
        if number.is_empty() || number == "." {
            return Err(format!("`{text}` does not start with a number"));
        }
        if number.matches('.').count() > 1 {
            return Err(format!("`{text}` has more than one decimal point"));
        }
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        // Mantissa as an integer scaled by 10^frac_len: every byte is a digit (checked above),
        // and 30 of them fit an i128.
        if int_part.len() + frac_part.len() > 30 {
            return Err(format!("`{text}` has too many digits (at most 30)"));
        }
        let mantissa = int_part
            .bytes()
            .chain(frac_part.bytes())
            .fold(0i128, |m, d| m * 10 + i128::from(d - b'0'));
        let frac_len = frac_part.len() as u32;
        // (multiplier numerator, power of ten) so that value = mantissa × mul × 10^pow10 / 10^frac
        let (mul, pow10): (i128, i32) = match suffix {
            "" => (1, 0),
            "n" => (1, -9),
            "u" => (1, -6),
            "m" => (1, -3),
            "k" => (1, 3),
            "M" => (1, 6),
            "G" => (1, 9),
            "T" => (1, 12),
            "P" => (1, 15),
            "E" => (1, 18),
            "Ki" => (KI, 0),
            "Mi" => (KI.pow(2), 0),
            "Gi" => (KI.pow(3), 0),
            "Ti" => (KI.pow(4), 0),
            "Pi" => (KI.pow(5), 0),
            "Ei" => (KI.pow(6), 0),
            other => {
                if let Some(exp) = other.strip_prefix(['e', 'E']) {
                    let e: i32 = exp
                        .parse()
                        .map_err(|_| format!("`{text}` has a malformed exponent"))?;
                    if !(-9..=18).contains(&e) {
                        return Err(format!("`{text}` has an exponent out of range"));
                    }
                    (1, e)
                } else {
                    return Err(unit_hint(text, other));
                }
            }
        };
        let total_pow = 9 + pow10 - frac_len as i32;
        let scaled = mantissa
            .checked_mul(mul)
            .ok_or_else(|| format!("`{text}` is too large"))?;
        let nanos = if total_pow >= 0 {
            scaled
                .checked_mul(10i128.pow(total_pow as u32))
                .ok_or_else(|| format!("`{text}` is too large"))?
        } else {
            // Kubernetes rounds sub-nano precision up.
            let div = 10i128.pow((-total_pow) as u32);
            (scaled + div - 1) / div
        };
        if negative && nanos != 0 {
            return Err(format!("`{text}` is negative; quantities here must be ≥ 0"));
        }
        Ok(Quantity {
            text: text.to_string(),
            nanos,
        })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whole units, rounded up (bytes for memory, cores for CPU).
    pub(crate) fn ceil_units(&self) -> i128 {
        (self.nanos + 999_999_999) / 1_000_000_000
    }

    /// Thousandths, rounded up (millicores for CPU).
    pub(crate) fn millis(&self) -> i128 {
        (self.nanos + 999_999) / 1_000_000
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Quantity {}
impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

fn unit_hint(text: &str, suffix: &str) -> String {
    let trimmed = suffix.trim_start();
    if trimmed.len() != suffix.len() {
        let number = text[..text.len() - suffix.len()].trim_end();
        let fix = match trimmed.to_ascii_lowercase().as_str() {
            "kb" | "kib" | "ki" | "k" => "Ki",
            "mb" | "mib" | "mi" | "m" => "Mi",
            "gb" | "gib" | "gi" | "g" => "Gi",
            "tb" | "tib" | "ti" | "t" => "Ti",
            _ => "Mi",
        };
        return format!(
            "`{text}` is not a Kubernetes quantity: no space may stand between the number and the unit (did you mean `{number}{fix}`?)"
        );
    }
    let suggestion = match trimmed.to_ascii_lowercase().as_str() {
        "kb" | "kib" => Some("Ki"),
        "mb" | "mib" => Some("Mi"),
        "gb" | "gib" => Some("Gi"),
        "tb" | "tib" => Some("Ti"),
        "g" => Some("Gi"),
        _ => None,
    };
    let number = &text[..text.len() - suffix.len()];
    match suggestion {
        Some(s) => format!(
            "`{text}` is not a Kubernetes quantity: unknown unit `{suffix}` (did you mean `{}{s}`?)",
            number.trim_end()
        ),
        None => format!(
            "`{text}` is not a Kubernetes quantity: unknown unit `{suffix}` (use Ki, Mi, Gi, Ti for bytes or m for thousandths)"
        ),
    }
}

/// Human-readable MiB/GiB with one decimal, for reports.
pub(crate) fn human_bytes(bytes: i128) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib.abs() >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// A memory quantity: bytes, where a Kubernetes `m` suffix is almost certainly a JVM habit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Memory(pub Quantity);

impl Memory {
    pub fn bytes(&self) -> i128 {
        self.0.ceil_units()
    }
    pub fn parse(text: &str) -> Result<Memory, String> {
        if let Some(num) = text.strip_suffix('m')
            && !num.is_empty()
            && num.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            return Err(format!(
                "`{text}` means {num} thousandths of a byte in Kubernetes; write `{num}Mi` for mebibytes"
            ));
        }
        Quantity::parse(text).map(Memory)
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A CPU quantity: cores, usually written as millicores (`250m`) or whole cores (`2`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Cpu(pub Quantity);

impl Cpu {
    pub(crate) fn millis(&self) -> i128 {
        self.0.millis()
    }
    pub fn parse(text: &str) -> Result<Cpu, String> {
        let q = Quantity::parse(text)?;
        if text.ends_with('i') {
            return Err(format!(
                "`{text}` is a byte quantity; CPU is written in cores (`2`) or millicores (`500m`)"
            ));
        }
        Ok(Cpu(q))
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

struct TextVisitor<F>(&'static str, F);

impl<T, F: Fn(&str) -> Result<T, String>> serde::de::Visitor<'_> for TextVisitor<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        (self.1)(v).map_err(|e| E::custom(self.with_expectation(e)))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}

impl<F> TextVisitor<F> {
    /// A parser's complaint plus what to write instead, unless it already says (`write ...`,
    /// `expected ...`): "`lots` does not start with a number" alone does not say what would do.
    fn with_expectation(&self, e: String) -> String {
        if e.contains("expected") || e.contains("write ") {
            e
        } else {
            format!("{e}; expected {}", self.0)
        }
    }
}

macro_rules! text_deserialize {
    ($ty:ty, $expecting:expr, $parse:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(TextVisitor($expecting, $parse))
            }
        }
    };
}

text_deserialize!(
    Memory,
    "a Kubernetes memory quantity such as \"512Mi\" or \"2Gi\"",
    Memory::parse
);
text_deserialize!(
    Cpu,
    "a Kubernetes CPU quantity such as \"500m\" or \"2\"",
    Cpu::parse
);

/// A JVM-style size (`-Xmx800m`, Flink's `taskmanager.memory.process.size: 8g`): binary units.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct JvmSize {
    pub bytes: u64,
    text: String,
}

impl JvmSize {
    /// Parses `123`, `64k`, `800m`, `8g`, `1t` (either case), and Flink's long forms
    /// (`800 mb`, `1gb`, `256 mebibytes`).
    pub fn parse(text: &str) -> Result<JvmSize, String> {
        let s = text.trim();
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(end);
        if num.is_empty() {
            return Err(format!(
                "`{text}` is not a JVM size: expected a whole number with an optional unit (k, m, g, t), e.g. \"800m\""
            ));
        }
        let n: u64 = num.parse().map_err(|_| format!("`{text}` is too large"))?;
        let mul: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" | "bytes" => 1,
            "k" | "kb" | "kibibytes" => 1 << 10,
            "m" | "mb" | "mebibytes" => 1 << 20,
            "g" | "gb" | "gibibytes" => 1 << 30,
            "t" | "tb" | "tebibytes" => 1 << 40,
            "mi" | "gi" | "ki" | "ti" => {
                return Err(format!(
                    "`{text}` uses a Kubernetes unit; JVM and Flink sizes are written `{}{}`",
                    num,
                    &unit[..1].to_ascii_lowercase()
                ));
            }
            _ => {
                return Err(format!(
                    "`{text}` is not a JVM size: unknown unit `{}` (use k, m, g or t, e.g. \"800m\")",
                    unit.trim()
                ));
            }
        };
        let bytes = n
            .checked_mul(mul)
            .ok_or_else(|| format!("`{text}` is too large"))?;
        Ok(JvmSize {
            bytes,
            text: s.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for JvmSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for JvmSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

text_deserialize!(
    JvmSize,
    "a JVM/Flink size such as \"800m\" or \"8g\"",
    JvmSize::parse
);

/// A PostgreSQL memory setting (`128MB`, `4GB`, `64kB`): units are case-sensitive, as the
/// server's GUC parser has them, and 1 kB = 1024 bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PgSize {
    pub bytes: u64,
    text: String,
}

impl PgSize {
    pub fn parse(text: &str) -> Result<PgSize, String> {
        let s = text.trim();
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(end);
        if num.is_empty() {
            return Err(format!(
                "`{text}` is not a PostgreSQL size: expected a number and a unit (B, kB, MB, GB, TB), e.g. \"128MB\""
            ));
        }
        let n: u64 = num.parse().map_err(|_| format!("`{text}` is too large"))?;
        let unit = unit.trim();
        let mul: u64 = match unit {
            "B" => 1,
            "kB" => 1 << 10,
            "MB" => 1 << 20,
            "GB" => 1 << 30,
            "TB" => 1 << 40,
            "" => {
                return Err(format!(
                    "`{text}` has no unit; PostgreSQL would read it in its own base unit (8kB pages for shared_buffers): write e.g. \"{n}MB\""
                ));
            }
            other => {
                let fix = match other.to_ascii_lowercase().as_str() {
                    "k" | "kb" | "ki" | "kib" => "kB",
                    "m" | "mb" | "mi" | "mib" => "MB",
                    "g" | "gb" | "gi" | "gib" => "GB",
                    "t" | "tb" | "ti" | "tib" => "TB",
                    _ => "MB",
                };
                return Err(format!(
                    "`{text}` has unit `{other}`, which PostgreSQL rejects (units are case-sensitive: B, kB, MB, GB, TB); did you mean \"{n}{fix}\"?"
                ));
            }
        };
        let bytes = n
            .checked_mul(mul)
            .ok_or_else(|| format!("`{text}` is too large"))?;
        Ok(PgSize {
            bytes,
            text: format!("{n}{unit}"),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for PgSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for PgSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

text_deserialize!(
    PgSize,
    "a PostgreSQL size such as \"128MB\" or \"4GB\"",
    PgSize::parse
);

/// An Aerospike config size (`400M`, `16G`, `128M`): binary units, K/M/G/T.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AsSize {
    pub bytes: u64,
    text: String,
}

impl AsSize {
    pub fn parse(text: &str) -> Result<AsSize, String> {
        let s = text.trim();
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(end);
        if num.is_empty() {
            return Err(format!(
                "`{text}` is not an Aerospike size: expected a number with K, M, G or T, e.g. \"512M\""
            ));
        }
        let n: u64 = num.parse().map_err(|_| format!("`{text}` is too large"))?;
        let (mul, canon): (u64, &str) = match unit.trim() {
            "" => (1, ""),
            "K" | "k" => (1 << 10, "K"),
            "M" | "m" => (1 << 20, "M"),
            "G" | "g" => (1 << 30, "G"),
            "T" | "t" => (1 << 40, "T"),
            other => {
                return Err(format!(
                    "`{text}` has unit `{other}`; Aerospike sizes use K, M, G or T (e.g. \"{n}{}\")",
                    other.chars().next().unwrap_or('M').to_ascii_uppercase()
                ));
            }
        };
        let bytes = n
            .checked_mul(mul)
            .ok_or_else(|| format!("`{text}` is too large"))?;
        Ok(AsSize {
            bytes,
            text: format!("{n}{canon}"),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for AsSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for AsSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

text_deserialize!(
    AsSize,
    "an Aerospike size such as \"512M\" or \"16G\"",
    AsSize::parse
);

/// A duration as Flink and Spring read it (`60s`, `5 min`, `1h`), kept as text with its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duration {
    pub millis: u64,
    text: String,
}

impl Duration {
    pub fn parse(text: &str) -> Result<Duration, String> {
        let s = text.trim();
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(end);
        let bad = || {
            format!(
                "`{text}` is not a duration: expected a number and a unit (ms, s, min, h, d), e.g. \"60s\""
            )
        };
        if num.is_empty() {
            return Err(bad());
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        let mul = match unit.trim() {
            "ms" => 1,
            "s" => 1000,
            "min" | "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        Ok(Duration {
            millis: n.checked_mul(mul).ok_or_else(bad)?,
            text: format!("{n}{}", unit.trim()),
        })
    }
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

text_deserialize!(
    Duration,
    "a duration such as \"60s\" or \"5min\"",
    Duration::parse
);

/// JSON Schema for the unit types: strings with the notation's pattern (numbers accepted where
/// the notation allows a bare number).
macro_rules! text_schema {
    ($ty:ty, $name:expr, $desc:expr, $pattern:expr, $allow_int:expr) => {
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                if $allow_int {
                    schemars::json_schema!({
                        "description": $desc,
                        "anyOf": [
                            {"type": "string", "pattern": $pattern},
                            {"type": "integer", "minimum": 0}
                        ]
                    })
                } else {
                    schemars::json_schema!({
                        "description": $desc,
                        "type": "string",
                        "pattern": $pattern
                    })
                }
            }
        }
    };
}

text_schema!(
    Memory,
    "KubernetesMemory",
    "A Kubernetes memory quantity: 512Mi, 2Gi, 1.5Gi (binary suffixes Ki Mi Gi Ti; decimal k M G T).",
    r"^[0-9]+(\.[0-9]+)?([eE][0-9]+|[kMGTPE]|[KMGTPE]i)?$",
    true
);
text_schema!(
    Cpu,
    "KubernetesCpu",
    "A Kubernetes CPU quantity: cores (2, 0.5) or millicores (500m).",
    r"^[0-9]+(\.[0-9]+)?m?$",
    true
);
text_schema!(
    JvmSize,
    "JvmSize",
    "A JVM/Flink size, binary units: 800m = 800 MiB, 8g = 8 GiB (k, m, g, t; Flink also kb, mb, gb).",
    r"^[0-9]+ *([kKmMgGtT]|[kKmMgGtT][bB]|bytes|[kmgt]ibibytes|mebibytes|gibibytes|kibibytes|tebibytes)?$",
    true
);
text_schema!(
    PgSize,
    "PostgresSize",
    "A PostgreSQL size with its case-sensitive unit: 128MB, 4GB, 64kB (1 kB = 1024 B).",
    r"^[0-9]+ *(B|kB|MB|GB|TB)$",
    false
);
text_schema!(
    AsSize,
    "AerospikeSize",
    "An Aerospike size: 512M, 16G (K, M, G, T; binary).",
    r"^[0-9]+[KkMmGgTt]?$",
    true
);
text_schema!(
    Duration,
    "Duration",
    "A duration: 60s, 5min, 1h (ms, s, min, h, d).",
    r"^[0-9]+ *(ms|s|min|m|h|d)$",
    false
);

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> i128 {
        Quantity::parse(s).unwrap().ceil_units()
    }

    #[test]
    fn kubernetes_quantities_compare_by_value() {
        assert_eq!(Quantity::parse("1024Mi"), Quantity::parse("1Gi"));
        assert_eq!(Quantity::parse("1000m"), Quantity::parse("1"));
        assert_eq!(Quantity::parse("0.5"), Quantity::parse("500m"));
        assert_eq!(Quantity::parse("1e3"), Quantity::parse("1k"));
        assert_eq!(bytes("1.5Gi"), 1536 * 1024 * 1024);
        assert_eq!(bytes("128974848"), 128_974_848);
        assert_eq!(bytes("129M"), 129_000_000);
        assert_eq!(Quantity::parse("250m").unwrap().millis(), 250);
        assert_eq!(Quantity::parse("0.1").unwrap().millis(), 100);
        assert_eq!(Quantity::parse("100n").unwrap().millis(), 1);
    }

    #[test]
    fn kubernetes_quantities_reject_nonsense() {
        for bad in [
            "", "banana", "-1Gi", "512 Mb", "512Mb", "1.2.3Gi", "Gi", " 1Gi",
        ] {
            assert!(Quantity::parse(bad).is_err(), "{bad} should be rejected");
        }
        let err = Quantity::parse("512Mb").unwrap_err();
        assert!(err.contains("512Mi"), "{err}");
        let err = Memory::parse("800m").unwrap_err();
        assert!(err.contains("800Mi"), "{err}");
        assert!(Cpu::parse("2Gi").is_err());
        // Each says what is wrong with the number, not only that it is wrong.
        let err = Quantity::parse("1.2.3Gi").unwrap_err();
        assert!(err.contains("more than one decimal point"), "{err}");
        let err = Quantity::parse(&format!("{}Gi", "1".repeat(31))).unwrap_err();
        assert!(err.contains("too many digits (at most 30)"), "{err}");
        let thirty = format!("1.{}", "0".repeat(29));
        assert_eq!(Quantity::parse(&thirty).unwrap().millis(), 1000);
    }

    #[test]
    fn jvm_sizes_are_binary() {
        assert_eq!(JvmSize::parse("800m").unwrap().bytes, 800 << 20);
        assert_eq!(JvmSize::parse("8g").unwrap().bytes, 8 << 30);
        assert_eq!(JvmSize::parse("8G").unwrap().bytes, 8 << 30);
        assert_eq!(JvmSize::parse("256 mb").unwrap().bytes, 256 << 20);
        assert_eq!(JvmSize::parse("1024").unwrap().bytes, 1024);
        assert!(JvmSize::parse("800Mi").unwrap_err().contains("800m"));
        assert!(JvmSize::parse("lots").is_err());
    }

    #[test]
    fn postgres_units_are_case_sensitive() {
        assert_eq!(PgSize::parse("128MB").unwrap().bytes, 128 << 20);
        assert_eq!(PgSize::parse("64kB").unwrap().bytes, 64 << 10);
        let err = PgSize::parse("128mb").unwrap_err();
        assert!(err.contains("128MB"), "{err}");
        assert!(PgSize::parse("4Gi").unwrap_err().contains("4GB"));
        assert!(PgSize::parse("128").is_err());
    }

    #[test]
    fn aerospike_sizes() {
        assert_eq!(AsSize::parse("400M").unwrap().bytes, 400 << 20);
        assert_eq!(AsSize::parse("16g").unwrap().as_str(), "16G");
        assert!(AsSize::parse("16GB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("60s").unwrap().millis, 60_000);
        assert_eq!(Duration::parse("5min").unwrap().millis, 300_000);
        assert!(Duration::parse("soon").is_err());
    }
}
