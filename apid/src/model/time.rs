//! Times (ISO-8601 UTC with milliseconds, as JavaScript's `toISOString`) and one-decimal percents.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserializer, Serializer};

/// A point in time, always UTC.
pub type Timestamp = DateTime<Utc>;

/// Rounds to one decimal, the precision every percent is shown with.
pub fn round1(v: f64) -> f64 {
    if v.is_finite() {
        (v * 10.0).round() / 10.0
    } else {
        0.0
    }
}

/// Serializes a percent rounded to one decimal (a JSON number, never a string).
pub fn ser_round1<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round1(*v))
}

/// Milliseconds since the epoch.
pub fn to_millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

/// The time at these milliseconds since the epoch (clamped to chrono's range).
pub fn from_millis(ms: i64) -> Timestamp {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// `#[serde(with = "iso")]` for a [`Timestamp`]: `"2025-01-02T03:04:05.678Z"` out; in, also
/// MongoDB extended JSON `{"$date": "..."}`, `{"$date": <ms>}`, `{"$date": {"$numberLong": "<ms>"}}`.
pub mod iso {
    use super::*;

    /// Writes the time as ISO-8601 UTC with milliseconds.
    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    /// Reads a time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        d.deserialize_any(TimeVisitor)
    }
}

/// `#[serde(with = "iso_opt", default)]` for an `Option<Timestamp>` (`null` when absent).
pub mod iso_opt {
    use super::*;

    /// Writes the time, or `null`.
    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => iso::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    /// Reads a time or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        d.deserialize_option(OptVisitor)
    }

    struct OptVisitor;
    impl<'de> Visitor<'de> for OptVisitor {
        type Value = Option<Timestamp>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a time or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            iso::deserialize(d).map(Some)
        }
    }
}

struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = Timestamp;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ISO-8601 time, milliseconds, or {\"$date\": ...}")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        Ok(from_millis(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        Ok(from_millis(i64::try_from(v).unwrap_or(i64::MAX)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Timestamp, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "$date" => found = Some(map.next_value_seed(Seed)?),
                "$numberLong" => {
                    let s: String = map.next_value()?;
                    let ms = s
                        .parse::<i64>()
                        .map_err(|_| de::Error::custom("bad $numberLong"))?;
                    found = Some(from_millis(ms));
                }
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        found.ok_or_else(|| de::Error::missing_field("$date"))
    }
}

struct Seed;
impl<'de> de::DeserializeSeed<'de> for Seed {
    type Value = Timestamp;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Timestamp, D::Error> {
        d.deserialize_any(TimeVisitor)
    }
}
