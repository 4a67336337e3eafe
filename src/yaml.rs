//! A block-style YAML serializer for rendered objects.
//!
//! serde-saphyr reads every YAML amctl is given; for writing, its emitter spent about 127
//! instructions per output byte on quoting analysis (73% of rendering 1,000 services). This
//! serializer decides each scalar's style in one pass: plain when it is unambiguous, double-
//! quoted otherwise (as kubectl writes them), and literal blocks for multi-line text (config
//! files). Its output is read back by serde-saphyr, PyYAML (the schema
//! check) and kubectl in the tests, and a property test round-trips arbitrary strings.

use serde::ser::{self, Serialize};
use std::fmt::Write as _;

#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Error {}
impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// Serializes `value` as a YAML document (no `---`).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let mut out = String::with_capacity(4096);
    append(&mut out, value)?;
    Ok(out)
}

/// Appends `value` as a YAML document (no `---`) to `out`: a stream of many documents is built
/// in one buffer, without a String per document.
pub(crate) fn append<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result<(), Error> {
    value.serialize(Ser {
        out: &mut *out,
        indent: 0,
        pos: Pos::Top,
    })?;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(())
}

/// Where the value being serialized sits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pos {
    /// The document root.
    Top,
    /// After `key:` (nothing written after the colon yet).
    MapValue,
    /// After `- ` (the item marker is written).
    SeqItem,
}

struct Ser<'a> {
    out: &'a mut String,
    /// Indentation of the enclosing key or item.
    indent: usize,
    pos: Pos,
}

fn pad(out: &mut String, mut n: usize) {
    const SPACES: &str = "                                                                ";
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

/// Bytes of the fast plain path: ASCII letters, digits and `-_./`.
const SAFE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/');
        i += 1;
    }
    t
};

/// Most keys and values (field names, label keys, names, images, paths, `TCP`, `http`): a
/// letter, then letters, digits and `-_./`. Nothing there can start a number, a comment, a
/// mapping or a flow collection; the only such words that read as something else are YAML's
/// null and booleans (`on`, `y`, `No`), which `reserved_word` knows. For these strings this
/// is exactly `!needs_quotes`, decided in one pass over the bytes.
fn plain_fast(b: &[u8]) -> bool {
    !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|&c| SAFE[c as usize])
        && !reserved_word(b)
}

/// Byte classes for the one-pass scalar check.
const QUOTE: u8 = 1; // never in a plain scalar: control characters, flow indicators
const HASH: u8 = 2; // `#`: a comment after a space
const SPACE: u8 = 4; // ` `: a mapping after a colon
const NUMERIC: u8 = 8; // may appear in a number, timestamp or sexagesimal
const WIDE: u8 = 16; // part of a non-ASCII character: see `special_char`

/// Characters that YAML does not allow unescaped (C1 controls, U+FEFF, U+FFFE, U+FFFF) or
/// that YAML 1.1 readers take as line breaks (U+0085, U+2028, U+2029): written as `\uXXXX`
/// in double quotes, never plain or in a literal block.
fn special_char(c: char) -> bool {
    matches!(
        c,
        '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

/// The first bytes of the UTF-8 encodings of the special characters.
const fn special_lead(c: u8) -> bool {
    matches!(c, 0xc2 | 0xe2 | 0xef)
}

/// A `special_char` in `s`: byte-wise, decoding only where one could start (config files are
/// long and mostly ASCII).
fn contains_special(s: &str) -> bool {
    s.bytes()
        .enumerate()
        .any(|(i, c)| special_lead(c) && special_at(s, i))
}

/// A `special_char` starts at byte `i`, a lead byte of one (so a char boundary: a lead byte is
/// never a continuation byte).
fn special_at(s: &str, i: usize) -> bool {
    s[i..].chars().next().is_some_and(special_char)
}

/// `CLASS` without `NUMERIC`: a byte that is 0 here cannot make a string need quotes, unless the
/// string starts like a number.
const STYLE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = CLASS[i] & !NUMERIC;
        i += 1;
    }
    t
};

const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut k = 0;
        if c < 0x20 || c == 0x7f || matches!(c, b'{' | b'}' | b'[' | b']' | b',') {
            k |= QUOTE;
        }
        if c >= 0x80 {
            k |= WIDE;
        }
        if c == b'#' {
            k |= HASH;
        }
        if c == b' ' {
            k |= SPACE;
        }
        if c.is_ascii_hexdigit()
            || matches!(
                c,
                b'.' | b'_' | b':' | b'+' | b'-' | b'x' | b'X' | b'o' | b'O'
            )
        {
            k |= NUMERIC;
        }
        t[i] = k;
        i += 1;
    }
    t
};

/// True when `s` read as a plain scalar would be something other than this string: the full
/// check (it agrees with `plain_fast` wherever that holds; callers try that first).
fn needs_quotes(s: &str) -> bool {
    if quoted_by_its_ends(s) {
        return true;
    }
    let b = s.as_bytes();
    let first = b[0];
    // Numbers, timestamps and sexagesimals (YAML 1.1 and 1.2): anything that starts like a
    // number and uses only number characters.
    let starts_numeric = first.is_ascii_digit()
        || (matches!(first, b'+' | b'-' | b'.')
            && b.get(1).is_some_and(|c| c.is_ascii_digit() || *c == b'.'));
    let mut numeric_chars = starts_numeric;
    let mut wide = 0;
    // One table look-up per byte; the rare bytes that matter are looked at closer. `#` and ` `
    // at index 0 were refused above, so `i - 1` is in range where they are looked at.
    for (i, &c) in b.iter().enumerate() {
        if numeric_chars {
            numeric_chars = CLASS[c as usize] & NUMERIC != 0;
        }
        let class = STYLE[c as usize];
        if class == 0 {
            continue;
        }
        if class & QUOTE != 0
            || (class & HASH != 0 && b[i - 1] == b' ')
            || (class & SPACE != 0 && b[i - 1] == b':')
        {
            return true;
        }
        wide |= class & WIDE;
    }
    if wide != 0 && contains_special(s) {
        return true;
    }
    if b[b.len() - 1] == b':' {
        return true;
    }
    if numeric_chars {
        return true;
    }
    reserved_word(b)
}

/// The part of `needs_quotes` that looks only at the ends of `s`: empty, a space at either end,
/// an indicator that cannot start a plain scalar, a document marker or a merge key.
fn quoted_by_its_ends(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else { return true };
    if first == b' ' || b[b.len() - 1] == b' ' {
        return true;
    }
    // Indicators that cannot start a plain scalar; `-`, `?`, `:` may when followed by a
    // non-space ("-Xmx300m").
    match first {
        b'[' | b']' | b'{' | b'}' | b',' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' => true,
        b'-' | b'?' | b':' if b.len() == 1 || b[1] == b' ' || s.starts_with("---") => true,
        _ => s.starts_with("...") || s.starts_with("<<"),
    }
}

/// YAML 1.1/1.2 words a plain scalar would turn into null, a boolean or a special float.
fn reserved_word(b: &[u8]) -> bool {
    // Their first bytes: most short strings (`TCP`, `1Gi`, `kafka`) are known by that alone.
    if b.len() > 5
        || !matches!(
            b[0],
            b'~' | b'n'
                | b'N'
                | b't'
                | b'T'
                | b'f'
                | b'F'
                | b'y'
                | b'Y'
                | b'o'
                | b'O'
                | b'.'
                | b'-'
                | b'+'
        )
    {
        return false;
    }
    let mut lower = [0u8; 5];
    for (l, c) in lower.iter_mut().zip(b) {
        *l = c.to_ascii_lowercase();
    }
    matches!(
        &lower[..b.len()],
        b"~" | b"null"
            | b"true"
            | b"false"
            | b"yes"
            | b"no"
            | b"on"
            | b"off"
            | b"y"
            | b"n"
            | b".inf"
            | b"-.inf"
            | b"+.inf"
            | b".nan"
    )
}

/// Bytes that a double-quoted scalar escapes (`"`, `\\`, C0 controls, DEL), or that may start
/// a character it escapes (`special_lead`, checked after).
const ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c < 0x20 || c == 0x7f || c == b'"' || c == b'\\' || special_lead(c);
        i += 1;
    }
    t
};

/// Double-quoted, as kubectl writes strings that need quotes. Runs without escapes are copied
/// whole.
fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    let b = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !ESCAPE[c as usize] {
            i += 1;
            continue;
        }
        // ASCII, or the first byte of a character: `i` is a char boundary.
        let mut len = 1;
        if c >= 0x80 {
            let ch = s[i..].chars().next().unwrap_or(' ');
            if !special_char(ch) {
                i += 1;
                continue;
            }
            len = ch.len_utf8();
            out.push_str(&s[start..i]);
            let _ = write!(out, "\\u{:04x}", ch as u32);
        } else {
            out.push_str(&s[start..i]);
            match c {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\t' => out.push_str("\\t"),
                b'\r' => out.push_str("\\r"),
                c => {
                    let _ = write!(out, "\\u{:04x}", c);
                }
            }
        }
        i += len;
        start = i;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A scalar as a key or inline value.
fn write_scalar(out: &mut String, s: &str) {
    if plain_fast(s.as_bytes()) {
        out.push_str(s);
    } else {
        write_checked(out, s);
    }
}

/// `write_scalar` for text that has failed `plain_fast` already.
fn write_checked(out: &mut String, s: &str) {
    if needs_quotes(s) {
        write_quoted(out, s);
    } else {
        out.push_str(s);
    }
}

/// Multi-line text as a literal block (`|`, `|-`, `|+`), content at `indent`.
fn write_block(out: &mut String, s: &str, indent: usize) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    out.push('|');
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    out.push('\n');
    let body = if trailing > 0 { &s[..s.len() - 1] } else { s };
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Block literal is possible: newlines, but no other control characters and no trailing
/// spaces that a reader could lose (they are preserved in literal blocks, but `\r` is not).
fn block_ok(s: &str) -> bool {
    // Text starting with a space or an empty line would need an indentation indicator, whose
    // meaning depends on the parent's indentation: such text is double-quoted instead.
    s.as_bytes().contains(&b'\n')
        && !s.starts_with([' ', '\n'])
        && !s.trim_matches('\n').is_empty()
        && !has_control(s)
}

/// Bytes that keep text out of a literal block: controls other than newline and tab (C0,
/// DEL) are 1; the first bytes of the `special_char`s are 2 (a closer look decides).
const UNBLOCK: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        if (c < 0x20 && c != b'\n' && c != b'\t') || c == 0x7f {
            t[i] = 1;
        } else if special_lead(c) {
            t[i] = 2;
        }
        i += 1;
    }
    t
};

/// A control character other than newline and tab (C0, DEL) or a `special_char`: one pass,
/// one table look-up per byte (config files are long and mostly ASCII).
fn has_control(s: &str) -> bool {
    s.bytes()
        .enumerate()
        .any(|(i, c)| match UNBLOCK[c as usize] {
            0 => false,
            1 => true,
            _ => special_at(s, i),
        })
}

impl Ser<'_> {
    fn scalar(self, text: &str, plain_ok: bool) -> Result<(), Error> {
        if self.pos == Pos::MapValue {
            self.out.push(' ');
        }
        // Most strings (names, images, paths) take the fast plain check; only the rest are
        // looked at for newlines and quoting.
        if plain_ok || plain_fast(text.as_bytes()) {
            self.out.push_str(text);
        } else if block_ok(text) {
            // Under `key:` the text goes one level deeper; after `- ` it aligns with the item.
            let indent = if self.pos == Pos::SeqItem {
                self.indent
            } else {
                self.indent + 2
            };
            write_block(self.out, text, indent);
            return Ok(());
        } else {
            write_checked(self.out, text);
        }
        self.out.push('\n');
        Ok(())
    }
}

pub(crate) struct MapSer<'a> {
    out: &'a mut String,
    /// Indentation of this map's keys.
    indent: usize,
    pos: Pos,
    count: usize,
}

impl MapSer<'_> {
    fn start_key(&mut self) {
        if self.count == 0 {
            match self.pos {
                Pos::MapValue => {
                    self.out.push('\n');
                    pad(self.out, self.indent);
                }
                // After `- ` the first key goes on the same line.
                Pos::SeqItem | Pos::Top => {}
            }
        } else {
            pad(self.out, self.indent);
        }
        self.count += 1;
    }
    fn value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.out.push(':');
        v.serialize(Ser {
            out: self.out,
            indent: self.indent,
            pos: Pos::MapValue,
        })
    }
    fn finish(self) -> Result<(), Error> {
        if self.count == 0 {
            match self.pos {
                Pos::MapValue => self.out.push_str(" {}\n"),
                _ => self.out.push_str("{}\n"),
            }
        }
        Ok(())
    }
}

/// Map keys are scalars; anything else is refused.
struct KeySer<'a> {
    out: &'a mut String,
}

macro_rules! key_display {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<(), Error> {
            write_scalar(self.out, &v.to_string());
            Ok(())
        }
    )*};
}

impl ser::Serializer for KeySer<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        if plain_fast(v.as_bytes()) {
            self.out.push_str(v);
        } else if v.as_bytes().contains(&b'\n') {
            write_quoted(self.out, v);
        } else {
            write_checked(self.out, v);
        }
        Ok(())
    }
    key_display!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char);
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(Error("a map key must be a scalar".into()))
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        self.serialize_str(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(Error("a map key must be a scalar".into()))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(Error("a map key must be a scalar".into()))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(Error("a map key must be a scalar".into()))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(Error("a map key must be a scalar".into()))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error("a map key must be a scalar".into()))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(Error("a map key must be a scalar".into()))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(Error("a map key must be a scalar".into()))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error("a map key must be a scalar".into()))
    }
}

impl ser::SerializeMap for MapSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.start_key();
        key.serialize(KeySer { out: self.out })
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for MapSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.start_key();
        write_scalar(self.out, key);
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for MapSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

pub(crate) struct SeqSer<'a> {
    out: &'a mut String,
    /// Indentation of this sequence's `- ` markers.
    indent: usize,
    pos: Pos,
    count: usize,
}

impl SeqSer<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        if self.count == 0 {
            match self.pos {
                Pos::MapValue => {
                    self.out.push('\n');
                    pad(self.out, self.indent);
                }
                Pos::SeqItem | Pos::Top => {}
            }
        } else {
            pad(self.out, self.indent);
        }
        self.count += 1;
        self.out.push_str("- ");
        v.serialize(Ser {
            out: self.out,
            indent: self.indent + 2,
            pos: Pos::SeqItem,
        })
    }
    fn finish(self) -> Result<(), Error> {
        if self.count == 0 {
            match self.pos {
                Pos::MapValue => self.out.push_str(" []\n"),
                _ => self.out.push_str("[]\n"),
            }
        }
        Ok(())
    }
}

macro_rules! seq_impl {
    ($tr:ident, $m:ident) => {
        impl ser::$tr for SeqSer<'_> {
            type Ok = ();
            type Error = Error;
            fn $m<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                self.item(v)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    };
}
seq_impl!(SerializeSeq, serialize_element);
seq_impl!(SerializeTuple, serialize_element);
seq_impl!(SerializeTupleStruct, serialize_field);
seq_impl!(SerializeTupleVariant, serialize_field);

impl<'a> Ser<'a> {
    /// A nested map: after `key:` its keys go one level deeper; after `- ` they align with the
    /// first key on the item's line.
    fn map(self) -> MapSer<'a> {
        let indent = match self.pos {
            Pos::Top => 0,
            Pos::MapValue => self.indent + 2,
            Pos::SeqItem => self.indent,
        };
        MapSer {
            out: self.out,
            indent,
            pos: self.pos,
            count: 0,
        }
    }
    /// A nested sequence: under a key, its items sit at the key's indentation (kubectl's style).
    fn seq(self) -> SeqSer<'a> {
        let indent = match self.pos {
            Pos::Top => 0,
            Pos::MapValue | Pos::SeqItem => self.indent,
        };
        SeqSer {
            out: self.out,
            indent,
            pos: self.pos,
            count: 0,
        }
    }
}

/// Integers in decimal, formatted on the stack (no allocation, no `fmt` machinery).
fn decimal(buf: &mut [u8; 24], neg: bool, mut n: u64) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    std::str::from_utf8(&buf[i..]).expect("ASCII digits")
}

macro_rules! plain_int {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<(), Error> {
            let mut buf = [0u8; 24];
            #[allow(unused_comparisons)]
            let neg = v < 0;
            self.scalar(decimal(&mut buf, neg, (v as i128).unsigned_abs() as u64), true)
        }
    )*};
}

macro_rules! plain_display {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<(), Error> {
            let s = v.to_string();
            self.scalar(&s, true)
        }
    )*};
}

impl<'a> ser::Serializer for Ser<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = SeqSer<'a>;
    type SerializeTuple = SeqSer<'a>;
    type SerializeTupleStruct = SeqSer<'a>;
    type SerializeTupleVariant = SeqSer<'a>;
    type SerializeMap = MapSer<'a>;
    type SerializeStruct = MapSer<'a>;
    type SerializeStructVariant = MapSer<'a>;

    plain_int!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);
    plain_display!(serialize_i128: i128, serialize_u128: u128);

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.scalar(if v { "true" } else { "false" }, true)
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        let s = if v.is_nan() {
            ".nan".to_string()
        } else if v.is_infinite() {
            if v > 0.0 {
                ".inf".into()
            } else {
                "-.inf".into()
            }
        } else {
            let s = v.to_string();
            // `2` would read back as an integer.
            if s.contains(['.', 'e', 'E']) {
                s
            } else {
                format!("{s}.0")
            }
        };
        self.scalar(&s, true)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(&v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.scalar(v, false)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut s = self.seq();
        for b in v {
            ser::SerializeSeq::serialize_element(&mut s, b)?;
        }
        s.finish()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.scalar("null", true)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.scalar("null", true)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        self.serialize_str(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        let mut m = self.map();
        ser::SerializeMap::serialize_key(&mut m, variant)?;
        ser::SerializeMap::serialize_value(&mut m, v)?;
        m.finish()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<SeqSer<'a>, Error> {
        Ok(self.seq())
    }
    fn serialize_tuple(self, _: usize) -> Result<SeqSer<'a>, Error> {
        Ok(self.seq())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<SeqSer<'a>, Error> {
        Ok(self.seq())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<SeqSer<'a>, Error> {
        Ok(self.seq())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapSer<'a>, Error> {
        Ok(self.map())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<MapSer<'a>, Error> {
        Ok(self.map())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<MapSer<'a>, Error> {
        Ok(self.map())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn round_trip(v: &Value) {
        let text = to_string(v).unwrap();
        let back: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&back, v, "\n{text}");
    }

    #[test]
    fn integers_and_identifiers() {
        for n in [0i64, 7, -7, 10, 999, i64::MIN, i64::MAX] {
            round_trip(&json!({ "n": n }));
        }
        round_trip(&json!({ "u": u64::MAX }));
        let mut buf = [0u8; 24];
        assert_eq!(
            decimal(&mut buf, true, 9_223_372_036_854_775_808),
            "-9223372036854775808"
        );
        assert!(plain_fast(b"apiVersion") && plain_fast(b"x-kubernetes-list-type"));
        assert!(!plain_fast(b"on") && !plain_fast(b"$ref") && !plain_fast(b"a b c d e"));
        // The full check agrees wherever the fast one holds (write_checked relies on it).
        assert!(!needs_quotes("apiVersion") && !needs_quotes("x-kubernetes-list-type"));
        let mut out = String::new();
        pad(&mut out, 70);
        assert_eq!(out.len(), 70);
    }

    #[test]
    fn layout_matches_kubectl() {
        let v = json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "args": ["-c", "x"], "env": []}], "empty": {}}});
        assert_eq!(
            to_string(&v).unwrap(),
            "kind: Pod\nspec:\n  containers:\n  - args:\n    - -c\n    - x\n    env: []\n    name: a\n  empty: {}\n"
        );
    }

    #[test]
    fn ambiguous_scalars_are_quoted() {
        for s in [
            "",
            "17.6",
            "4.1.1",
            "1e3",
            "0x1F",
            "true",
            "No",
            "on",
            "~",
            "null",
            "2026-11-27",
            "12:30",
            "- x",
            "-",
            "---",
            "#x",
            "a: b",
            "a #b",
            "x:",
            "[a]",
            "'q'",
            "\"d\"",
            " lead",
            "trail ",
            "*ref",
            "&a",
            "!tag",
            "|",
            ">",
            "%",
            "@",
            "`",
            ".inf",
            "<<",
            "a,b",
            "{x}",
            "tab\there",
            "ctrl\u{1}",
            "line\r\nbreak",
            "multi\nline",
            "multi\n",
            "multi\n\n",
            "\n leading",
            "  indented\nblock",
            "c1 \u{85} control\nin a block",
            "del \u{7f}\nin a block",
        ] {
            round_trip(&json!({ "k": s, "list": [s], s: 1 }));
        }
        for s in [
            "-Xmx300m",
            "512Mi",
            "100m",
            "v1",
            "app.kubernetes.io/name",
            "ClusterIP",
        ] {
            let text = to_string(&json!({ "k": s })).unwrap();
            assert_eq!(text, format!("k: {s}\n"), "{s} stays plain");
        }
    }

    proptest::proptest! {
        /// Any text, as a key, a value and a list item, reads back as itself: the characters
        /// that decide a scalar's style (controls, quotes, indicators, newlines, and the
        /// special characters beside ordinary ones with the same first UTF-8 byte) are drawn
        /// often.
        #[test]
        fn any_string_round_trips(
            chars in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::arbitrary::any::<char>(),
                    proptest::sample::select(vec![
                        '\n', '\t', '\r', '"', '\\', ' ', '#', ':', '-', '|', '\'', '{', '0',
                        '\u{1}', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}', '\u{a0}', '\u{e9}',
                        '\u{2028}', '\u{2029}', '\u{2030}', '\u{feff}', '\u{fffe}', '\u{fffd}',
                    ]),
                ],
                0..24,
            )
        ) {
            let s: String = chars.into_iter().collect();
            round_trip(&json!({ "k": s, "list": [s], s: 1 }));
        }
    }

    /// The quoting rule's scan as first written (one loop, every byte classified): the oracle
    /// for `needs_quotes`, whose loop skips most bytes after one look-up.
    fn needs_quotes_oracle(s: &str) -> bool {
        // The ends were checked the same way then and now: shared, not re-written.
        if quoted_by_its_ends(s) {
            return true;
        }
        let b = s.as_bytes();
        let first = b[0];
        let mut numeric_chars = true;
        let mut wide = 0;
        let mut prev = 0u8;
        for &c in b {
            let class = CLASS[c as usize];
            if class & QUOTE != 0
                || (class & HASH != 0 && prev == b' ')
                || (class & SPACE != 0 && prev == b':')
            {
                return true;
            }
            numeric_chars &= class & NUMERIC != 0;
            wide |= class & WIDE;
            prev = c;
        }
        if wide != 0 && s.chars().any(special_char) {
            return true;
        }
        if prev == b':' {
            return true;
        }
        let starts_numeric = first.is_ascii_digit()
            || (matches!(first, b'+' | b'-' | b'.')
                && b.get(1).is_some_and(|c| c.is_ascii_digit() || *c == b'.'));
        if numeric_chars && starts_numeric {
            return true;
        }
        let lower = s.to_ascii_lowercase();
        [
            "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", "-.inf",
            "+.inf", ".nan",
        ]
        .contains(&lower.as_str())
    }

    proptest::proptest! {
        /// The fast checks decide exactly as the oracle: `needs_quotes` everywhere, `plain_fast`
        /// wherever it says plain, and `has_control` as the byte-by-byte definition.
        #[test]
        fn quoting_checks_agree_with_the_oracle(
            chars in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::arbitrary::any::<char>(),
                    proptest::sample::select(vec![
                        ' ', '#', ':', '-', '.', '+', '0', '1', '9', 'e', 'x', 'o', 'n', 'N', 'y',
                        't', 'f', 'O', '~', '_', '/', '{', ',', '\n', '\t', '\u{1}', '\u{7f}',
                        '\u{85}', '\u{a0}', '\u{2028}', '\u{feff}',
                    ]),
                ],
                0..12,
            )
        ) {
            let s: String = chars.into_iter().collect();
            proptest::prop_assert_eq!(needs_quotes(&s), needs_quotes_oracle(&s), "{:?}", s);
            if plain_fast(s.as_bytes()) {
                proptest::prop_assert!(!needs_quotes_oracle(&s), "{:?}", s);
            }
            let by_char = s.chars().any(|c| (c < ' ' && c != '\n' && c != '\t') || c == '\u{7f}' || special_char(c));
            proptest::prop_assert_eq!(has_control(&s), by_char, "{:?}", s);
        }
    }

    #[test]
    fn short_words_take_the_fast_path_unless_reserved() {
        for w in [
            "TCP", "http", "kafka", "a", "Always", "name", "nope", "offset", "yes1",
        ] {
            assert!(plain_fast(w.as_bytes()), "{w}");
        }
        for w in [
            "y", "N", "no", "On", "off", "Yes", "true", "FALSE", "null", "n",
        ] {
            assert!(!plain_fast(w.as_bytes()) && needs_quotes(w), "{w}");
        }
    }

    #[test]
    fn numbers_keep_their_type() {
        round_trip(&json!({"i": 3, "n": -7, "f": 2.0, "g": 0.25, "b": true, "z": null}));
    }
}
