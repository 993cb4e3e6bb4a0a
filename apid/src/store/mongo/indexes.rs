//! Our indexes, created only where missing. Twoine's own indexes (its 24 h TTL on stats
//! `timestamp`, its 7-day TTL on `resolvedAt`, its unique keys) are never dropped or
//! re-declared: an index whose key pattern already exists under any name or options is left
//! alone (so is one with every direction reversed, which serves the same reads), and codes
//! 85/86 (same index, other name or options) count as "exists".

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};

use super::collections::{ALERTS, SERVER_ROLLUPS, SERVER_STATS, SITE_ROLLUPS, SITE_STATS};
use super::convert::num;
use super::{err, error_code};
use crate::store::StoreResult;

/// `IndexOptionsConflict`, `IndexKeySpecsConflict`.
const EXISTS_CODES: [i32; 2] = [85, 86];
/// `NamespaceNotFound`: listIndexes on a collection not created yet.
const NAMESPACE_NOT_FOUND: i32 = 26;

/// What we need: (collection, key pattern, unique). Names are left to the server's default
/// (`field_1_other_-1`), as Mongoose does, so a later identical declaration by Twoine matches.
fn wanted() -> Vec<(&'static str, Document, bool)> {
    vec![
        (SERVER_STATS, doc! { "timestamp": -1 }, false),
        (SITE_STATS, doc! { "site": 1, "timestamp": -1 }, false),
        (ALERTS, doc! { "status": 1, "createdAt": -1 }, false),
        (ALERTS, doc! { "createdAt": -1 }, false),
        (SERVER_ROLLUPS, doc! { "res": 1, "bucket": 1 }, true),
        (
            SITE_ROLLUPS,
            doc! { "res": 1, "site": 1, "bucket": 1 },
            true,
        ),
    ]
}

/// Same fields in the same order with the same directions (numeric types compared as numbers).
fn same_keys(a: &Document, b: &Document) -> bool {
    a.len() == b.len()
        && a.iter().zip(b.iter()).all(|((ka, va), (kb, vb))| {
            ka == kb && (va == vb || num(Some(va)) != 0.0 && num(Some(va)) == num(Some(vb)))
        })
}

/// `keys` with every direction reversed: an index serves range scans and sorts both ways, so
/// Twoine's `{timestamp: 1}` TTL index already serves our newest-first reads.
fn reversed(keys: &Document) -> Document {
    keys.iter()
        .map(|(k, v)| match v {
            Bson::Int32(n) => (k.clone(), Bson::Int32(-n)),
            Bson::Int64(n) => (k.clone(), Bson::Int64(-n)),
            Bson::Double(n) => (k.clone(), Bson::Double(-n)),
            other => (k.clone(), other.clone()),
        })
        .collect()
}

/// Whether an existing index already serves `keys`.
fn served_by(existing: &Document, keys: &Document) -> bool {
    same_keys(existing, keys) || same_keys(existing, &reversed(keys))
}

/// The key patterns of a collection's indexes (none if it does not exist yet).
async fn existing(db: &Database, coll: &str) -> StoreResult<Vec<Document>> {
    match db.collection::<Document>(coll).list_indexes().await {
        Ok(cursor) => {
            let models: Vec<IndexModel> = cursor.try_collect().await.map_err(err)?;
            Ok(models.into_iter().map(|m| m.keys).collect())
        }
        Err(e) if error_code(&e) == Some(NAMESPACE_NOT_FOUND) => Ok(Vec::new()),
        Err(e) => Err(err(e)),
    }
}

/// Creates our missing indexes.
pub(super) async fn ensure(db: &Database) -> StoreResult<()> {
    for (coll, keys, unique) in wanted() {
        if existing(db, coll)
            .await?
            .iter()
            .any(|k| served_by(k, &keys))
        {
            continue;
        }
        let model = IndexModel::builder()
            .keys(keys)
            .options(unique.then(|| IndexOptions::builder().unique(true).build()))
            .build();
        match db.collection::<Document>(coll).create_index(model).await {
            Ok(_) => {}
            Err(e) if error_code(&e).is_some_and(|c| EXISTS_CODES.contains(&c)) => {}
            Err(e) => return Err(err(e)),
        }
    }
    Ok(())
}
