//! Opening the configured store (daemon and CLI alike).

use std::sync::Arc;

use super::DaemonError;
use crate::config::StoreConfig;
use crate::store::Store;
use crate::store::embedded::EmbeddedStore;
use crate::store::mongo::MongoStore;

/// Opens the store: the embedded file (its directory created, mode 0750, if missing) or a
/// MongoDB connection (our indexes created).
pub async fn open_store(config: &StoreConfig) -> Result<Arc<dyn Store>, DaemonError> {
    match config {
        StoreConfig::Embedded { path } => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && !dir.exists()
            {
                create_dir(dir).map_err(|e| {
                    DaemonError::Store(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let store = EmbeddedStore::open(path).map_err(|e| DaemonError::Store(e.to_string()))?;
            Ok(Arc::new(store))
        }
        StoreConfig::Mongo { uri, database } => {
            let store = MongoStore::connect(uri.expose(), database)
                .await
                .map_err(|e| DaemonError::Store(format!("MongoDB database {database}: {e}")))?;
            Ok(Arc::new(store))
        }
    }
}

fn create_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
}
