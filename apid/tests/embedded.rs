//! The conformance suite against the embedded SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

mod conformance;

use async_trait::async_trait;
use serde_json::Value;
use twoine_apid::store::Store;
use twoine_apid::store::embedded::EmbeddedStore;

struct Embedded {
    _dir: tempfile::TempDir,
    store: EmbeddedStore,
}

#[async_trait]
impl conformance::Harness for Embedded {
    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn import(&self, collection: &str, doc: Value) {
        self.store.import_document(collection, &doc).await.unwrap();
    }
}

async fn embedded() -> Embedded {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("twoine.db")).unwrap();
    Embedded { _dir: dir, store }
}

conformance::conformance_tests!(embedded);
