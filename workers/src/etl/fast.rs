//! A parser for the one record layout the dataset generator writes, about ten times faster
//! than serde_json's, that gives up (returns `None`) on anything else: the caller then parses
//! the line with serde_json, so every line gets serde_json's answer, only sooner.
//!
//! Accepted: `{"event_id":N,"ts_ms":N,"station":"S","category":"S","value":X|null,"unit":"S","quality":X}`
//! with no white space inside (trailing white space allowed), strings of printable ASCII
//! without escapes, integers of at most 18 digits and numbers without an exponent whose digits
//! number at most 18 and fraction digits at most 22. For those numbers serde_json computes
//! `digits as f64 / 10^fraction` (its default, not `float_roundtrip`); so does this parser, so
//! both give the same bits.

use super::RawRecord;

/// Exact powers of ten as f64 (every one up to 1e22 is exact).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The largest significand an f64 holds exactly (2^53).
const EXACT_SIGNIFICAND: u64 = 1 << 53;

/// Digits of a u64 that can never overflow.
const MAX_DIGITS: usize = 18;

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn literal(&mut self, l: &[u8]) -> Option<()> {
        if self.s.get(self.i..self.i + l.len())? == l {
            self.i += l.len();
            Some(())
        } else {
            None
        }
    }

    /// The body of a string whose opening quote was consumed, and its closing quote.
    fn string(&mut self) -> Option<&'a str> {
        let rest = &self.s[self.i..];
        let end = memchr::memchr(b'"', rest)?;
        let body = &rest[..end];
        if !body
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
        {
            return None;
        }
        self.i += end + 1;
        std::str::from_utf8(body).ok()
    }

    /// Decimal digits: their value and count (`None` past [`MAX_DIGITS`]).
    fn digits(&mut self, mut value: u64) -> Option<(u64, usize)> {
        let start = self.i;
        while let Some(&b) = self.s.get(self.i) {
            if !b.is_ascii_digit() {
                break;
            }
            value = value * 10 + u64::from(b - b'0');
            self.i += 1;
            if self.i - start > MAX_DIGITS {
                return None;
            }
        }
        Some((value, self.i - start))
    }

    /// `-?(0|[1-9][0-9]*)`: sign and magnitude.
    fn integer_part(&mut self) -> Option<(bool, u64, usize)> {
        let negative = self.literal(b"-").is_some();
        match self.s.get(self.i) {
            Some(b'0') => {
                self.i += 1;
                if self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                    return None;
                }
                Some((negative, 0, 1))
            }
            Some(b'1'..=b'9') => {
                let (v, n) = self.digits(0)?;
                Some((negative, v, n))
            }
            _ => None,
        }
    }

    fn integer(&mut self) -> Option<i64> {
        let (negative, magnitude, _) = self.integer_part()?;
        if matches!(self.s.get(self.i), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        // At most 18 digits: fits an i64 either way.
        let v = i64::try_from(magnitude).ok()?;
        Some(if negative { -v } else { v })
    }

    fn number(&mut self) -> Option<f64> {
        let (negative, mut significand, mut digits) = self.integer_part()?;
        let mut fraction = 0;
        if self.literal(b".").is_some() {
            let before = self.i;
            let (v, n) = self.digits(significand)?;
            if n == 0 {
                return None;
            }
            significand = v;
            fraction = self.i - before;
            digits += n;
        }
        // Above 2^53 the significand itself would round: leave those to serde_json.
        if digits > MAX_DIGITS
            || significand > EXACT_SIGNIFICAND
            || matches!(self.s.get(self.i), Some(b'e' | b'E'))
        {
            return None;
        }
        let f = significand as f64 / *POW10.get(fraction)?;
        Some(if negative { -f } else { f })
    }
}

/// The record on `line` if it has the generator's layout, else `None` (parse it otherwise).
pub(super) fn record(line: &[u8]) -> Option<RawRecord<'_>> {
    let mut c = Cursor { s: line, i: 0 };
    c.literal(b"{\"event_id\":")?;
    c.integer()?;
    c.literal(b",\"ts_ms\":")?;
    let ts_ms = c.integer()?;
    c.literal(b",\"station\":\"")?;
    let station = c.string()?;
    c.literal(b",\"category\":\"")?;
    let category = c.string()?;
    c.literal(b",\"value\":")?;
    let value = if c.literal(b"null").is_some() {
        None
    } else {
        Some(c.number()?)
    };
    c.literal(b",\"unit\":\"")?;
    let unit = c.string()?;
    c.literal(b",\"quality\":")?;
    let quality = c.number()?;
    c.literal(b"}")?;
    if !line[c.i..]
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        return None;
    }
    Some(RawRecord {
        ts_ms,
        station,
        category,
        value,
        unit,
        quality,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Fields = (i64, String, String, Option<u64>, String, u64);

    /// A record's fields, the floats as their bits.
    fn fields(r: RawRecord<'_>) -> Fields {
        (
            r.ts_ms,
            r.station.into(),
            r.category.into(),
            r.value.map(f64::to_bits),
            r.unit.into(),
            r.quality.to_bits(),
        )
    }

    fn serde(line: &str) -> Option<Fields> {
        serde_json::from_str(line).ok().map(fields)
    }

    fn fast(line: &str) -> Option<Fields> {
        record(line.as_bytes()).map(fields)
    }

    #[test]
    fn the_generators_layout_parses_as_serde_json_parses_it() {
        let line = r#"{"event_id":7,"ts_ms":1767225600123,"station":"ST-0042","category":"temperature","value":21.375,"unit":"degC","quality":0.973}"#;
        assert_eq!(fast(line), serde(line));
        assert!(fast(line).is_some());
        let null = r#"{"event_id":8,"ts_ms":-5,"station":"ST-0042","category":"humidity","value":null,"unit":"pct","quality":1} "#;
        assert_eq!(fast(null), serde(null));
        assert!(fast(null).is_some());
    }

    /// Everything off the layout is left to serde_json (which may accept or refuse it).
    #[test]
    fn anything_else_is_left_to_serde_json() {
        for line in [
            r#"{ "event_id":7,"ts_ms":1,"station":"a","category":"b","value":1.0,"unit":"c","quality":0.9}"#,
            r#"{"event_id":7,"ts_ms":1,"station":"a\"x","category":"b","value":1.0,"unit":"c","quality":0.9}"#,
            r#"{"event_id":7,"ts_ms":1,"station":"a","category":"b","value":1e3,"unit":"c","quality":0.9}"#,
            r#"{"event_id":7,"ts_ms":1.5,"station":"a","category":"b","value":1.0,"unit":"c","quality":0.9}"#,
            r#"{"event_id":7,"ts_ms":01,"station":"a","category":"b","value":1.0,"unit":"c","quality":0.9}"#,
            r#"{"event_id":7,"ts_ms":1,"station":"a","category":"b","value":1.,"unit":"c","quality":0.9}"#,
            r#"{"event_id":7,"ts_ms":1,"station":"ä","category":"b","value":1.0,"unit":"c","quality":0.9}"#,
            r#"{"event_id":7,"ts_ms":1,"station":"a","category":"b","value":1.0,"unit":"c","quality":0.9}x"#,
            r#"{"event_id":7,"ts_ms":1,"station":"a","category":"b","value":1.0,"unit":"c","quality":0.1234567890123456789}"#,
            r#"{"event_id":7,"ts_ms":1,"station":"a","category":"b","value":1.0,"unit":"c""#,
            r#"{"ts_ms":1,"event_id":7,"station":"a","category":"b","value":1.0,"unit":"c","quality":0.9}"#,
        ] {
            assert!(fast(line).is_none(), "{line}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

        /// Any number the generator could write, and many it could not, parse to the same bits;
        /// only numbers of more than 15 digits may be left to serde_json.
        #[test]
        fn numbers_parse_to_serde_jsons_bits(
            int in 0u64..1_000_000_000, frac in 0u64..1_000_000_000, width in 0usize..10, negative in any::<bool>(), ts in any::<i32>()
        ) {
            let sign = if negative { "-" } else { "" };
            let number = if width == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac:0width$}") };
            let line = format!(
                r#"{{"event_id":1,"ts_ms":{ts},"station":"ST-0001","category":"pressure","value":{number},"unit":"hPa","quality":{number}}}"#
            );
            let digits = number.trim_start_matches('-').replace('.', "").len();
            match fast(&line) {
                Some(parsed) => prop_assert_eq!(Some(parsed), serde(&line)),
                None => prop_assert!(digits > 15, "{} declined", line),
            }
        }
    }
}
