//! BSON ↔ model conversions shared by the Mongo store.
//!
//! Reads go through relaxed extended JSON (`{"$oid"}`, `{"$date"}`), which the model's tolerant
//! deserializers already accept; writes are built field by field so ids are ObjectIds and times
//! BSON dates, as Twoine's Mongoose schema declares them.

use futures_util::TryStreamExt;
use mongodb::Cursor;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, DateTime, Document};
use serde::de::DeserializeOwned;

use super::err;
use crate::model::{Id, Timestamp};
use crate::store::{StoreError, StoreResult};

/// An id as an ObjectId.
pub(super) fn oid(id: Id) -> ObjectId {
    ObjectId::from_bytes(id.bytes())
}

/// A time as a BSON date (millisecond precision).
pub(super) fn date(t: Timestamp) -> DateTime {
    DateTime::from_millis(t.timestamp_millis())
}

/// A millisecond time as a BSON date.
pub(super) fn date_ms(ms: i64) -> DateTime {
    DateTime::from_millis(ms)
}

/// An optional time as a BSON date or null.
pub(super) fn date_or_null(t: Option<Timestamp>) -> Bson {
    t.map_or(Bson::Null, |t| Bson::DateTime(date(t)))
}

/// An optional id as an ObjectId or null.
pub(super) fn oid_or_null(id: Option<Id>) -> Bson {
    id.map_or(Bson::Null, |i| Bson::ObjectId(oid(i)))
}

/// A count or size as a BSON Int64 (saturating).
pub(super) fn long(v: u64) -> Bson {
    Bson::Int64(i64::try_from(v).unwrap_or(i64::MAX))
}

/// A number of any BSON numeric type as `f64` (0 for null, missing or non-numbers).
pub(super) fn num(b: Option<&Bson>) -> f64 {
    match b {
        Some(Bson::Double(v)) => *v,
        Some(Bson::Int32(v)) => f64::from(*v),
        Some(Bson::Int64(v)) => *v as f64,
        Some(Bson::Decimal128(d)) => d.to_string().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// A model value from a stored document.
pub(super) fn parse<T: DeserializeOwned>(doc: Document) -> StoreResult<T> {
    let id = doc.get("_id").map(ToString::to_string).unwrap_or_default();
    serde_json::from_value(Bson::Document(doc).into_relaxed_extjson())
        .map_err(|e| StoreError::Internal(format!("unreadable document {id}: {e}")))
}

/// Every document of a cursor.
pub(super) async fn all(cursor: Cursor<Document>) -> StoreResult<Vec<Document>> {
    cursor.try_collect().await.map_err(err)
}

/// Every document of a cursor as model values; unreadable documents are skipped with a
/// warning (one corrupt record must not hide the others).
pub(super) async fn all_parsed<T: DeserializeOwned>(
    cursor: Cursor<Document>,
) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    for doc in all(cursor).await? {
        match parse(doc) {
            Ok(v) => out.push(v),
            Err(e) => tracing::warn!("{e}"),
        }
    }
    Ok(out)
}
