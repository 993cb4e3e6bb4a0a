//! A small writer of the Prometheus text exposition format (version 0.0.4): `# HELP`, `# TYPE`,
//! then `name{label="value",...} number` lines, label values and help text escaped as the
//! format says.
//!
//! Hand-written rather than `prometheus-client`: every value is read from the poller's latest
//! snapshot at scrape time (there is nothing to register or update between scrapes), the whole
//! format used here is a few dozen lines, and owning it keeps the escaping visible and tested.

use std::fmt::Write as _;

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Goes up and down.
    Gauge,
    /// Only goes up (resets on restart).
    Counter,
}

/// A sample value: integers are written exactly, floats with Prometheus' spelling of
/// infinities and NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An integer (bytes, counts).
    Int(u64),
    /// A float (percents, load).
    Float(f64),
}

impl From<u64> for Num {
    fn from(v: u64) -> Self {
        Self::Int(v)
    }
}

impl From<u32> for Num {
    fn from(v: u32) -> Self {
        Self::Int(u64::from(v))
    }
}

impl From<u8> for Num {
    fn from(v: u8) -> Self {
        Self::Int(u64::from(v))
    }
}

impl From<usize> for Num {
    fn from(v: usize) -> Self {
        Self::Int(v as u64)
    }
}

impl From<bool> for Num {
    fn from(v: bool) -> Self {
        Self::Int(u64::from(v))
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

/// The exposition being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family: its `# HELP` and `# TYPE` lines. Samples of the family follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Num>) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        self.out.push(' ');
        match value.into() {
            Num::Int(v) => {
                let _ = write!(self.out, "{v}");
            }
            Num::Float(v) if v.is_nan() => self.out.push_str("NaN"),
            Num::Float(v) if v == f64::INFINITY => self.out.push_str("+Inf"),
            Num::Float(v) if v == f64::NEG_INFINITY => self.out.push_str("-Inf"),
            Num::Float(v) => {
                let _ = write!(self.out, "{v}");
            }
        }
        self.out.push('\n');
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: impl Into<Num>) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A label value: `\` → `\\`, `"` → `\"`, newline → `\n`.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Help text: `\` → `\\`, newline → `\n`.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        let mut e = Exposition::default();
        e.family("m", Kind::Gauge, "line\none \\ two");
        e.sample("m", &[("site", "we\"ird\\\n"), ("k", "v")], 1.5);
        assert_eq!(
            e.finish(),
            "# HELP m line\\none \\\\ two\n# TYPE m gauge\nm{site=\"we\\\"ird\\\\\\n\",k=\"v\"} 1.5\n"
        );
    }

    #[test]
    fn numbers_use_prometheus_spelling() {
        let mut e = Exposition::default();
        e.sample("a", &[], u64::MAX);
        e.sample("b", &[], f64::NAN);
        e.sample("c", &[], f64::INFINITY);
        e.sample("d", &[], f64::NEG_INFINITY);
        e.sample("e", &[], true);
        e.sample("f", &[], 42.0);
        assert_eq!(
            e.finish(),
            "a 18446744073709551615\nb NaN\nc +Inf\nd -Inf\ne 1\nf 42\n"
        );
    }
}
