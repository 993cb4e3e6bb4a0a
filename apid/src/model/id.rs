//! Twelve-byte identifiers written as 24 lowercase hex digits, as MongoDB ObjectIds are.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An identifier: the 12 bytes of a MongoDB ObjectId, shown as 24 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id([u8; 12]);

/// The text given was not 24 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("identifiant invalide : 24 caractères hexadécimaux attendus")]
pub struct InvalidId;

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Id {
    /// A new identifier laid out like an ObjectId: seconds since the epoch, 5 bytes unique to
    /// this process, a 3-byte counter.
    pub fn generate() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = u32::try_from(now.as_secs()).unwrap_or(u32::MAX);
        let process = process_unique();
        let count = COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(process[0].into());
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        b[4..9].copy_from_slice(&process);
        b[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        Self(b)
    }

    /// The identifier made of these bytes.
    pub const fn from_bytes(bytes: [u8; 12]) -> Self {
        Self(bytes)
    }

    /// The 12 bytes.
    pub const fn bytes(&self) -> [u8; 12] {
        self.0
    }

    /// Reads 12 bytes from a slice (a database column).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidId> {
        <[u8; 12]>::try_from(bytes).map(Self).map_err(|_| InvalidId)
    }
}

fn process_unique() -> [u8; 5] {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::OnceLock;
    static UNIQUE: OnceLock<[u8; 5]> = OnceLock::new();
    *UNIQUE.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        h.write_u128(nanos);
        let v = h.finish().to_be_bytes();
        [v[0], v[1], v[2], v[3], v[4]]
    })
}

impl FromStr for Id {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.as_bytes();
        if s.len() != 24 {
            return Err(InvalidId);
        }
        let mut out = [0u8; 12];
        for (i, pair) in s.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or(InvalidId)?;
            let lo = hex_val(pair[1]).ok_or(InvalidId)?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Self(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    /// Accepts `"<24 hex>"` and MongoDB extended JSON `{"$oid": "<24 hex>"}`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Clone, Copy)]
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("24 hex digits or {\"$oid\": ...}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                v.parse()
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Id, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "$oid" {
                        let s: String = map.next_value()?;
                        found = Some(self.visit_str(&s)?);
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                found.ok_or_else(|| de::Error::missing_field("$oid"))
            }
        }
        d.deserialize_any(V)
    }
}

/// In the OpenAPI document: a string of 24 lowercase hex digits.
impl utoipa::PartialSchema for Id {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9a-f]{24}$"))
            .min_length(Some(24))
            .max_length(Some(24))
            .description(Some(
                "Identifier: 24 lowercase hex digits (a MongoDB ObjectId)",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Id {}
