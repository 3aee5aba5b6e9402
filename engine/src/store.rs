//! Durable engine state behind a small key-value [`Store`] trait.
//!
//! - [`SqliteStore`] (process mode): one `kv` table in `OMNISIM_STATE_DIR`,
//!   each batch in one transaction, WAL journal.
//! - [`MemStore`] (virtual mode): a simulated disk that outlives the engine
//!   instance. Only committed batches are on it, so a simulated crash loses
//!   exactly the work that was not committed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A write to apply: `Some` puts the value, `None` deletes the key.
pub type Write = (String, Option<Vec<u8>>);

/// A failure of the durable store.
#[derive(Debug, thiserror::Error)]
#[error("state store: {0}")]
pub struct StoreError(String);

/// Key-value storage with atomic batches.
pub trait Store: Send + Sync + 'static {
    /// Every key and value, in key order.
    fn load_all(&self) -> Result<BTreeMap<String, Vec<u8>>, StoreError>;
    /// Applies every write of `batch`, or none.
    fn commit(&self, batch: Vec<Write>) -> Result<(), StoreError>;
}

/// The simulated disk of virtual-time runs. Clone it to hand the same disk to
/// a restarted engine.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    disk: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

impl MemStore {
    /// An empty disk.
    pub fn new() -> Self {
        MemStore::default()
    }
}

impl Store for MemStore {
    fn load_all(&self) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
        Ok(self
            .disk
            .lock()
            .map_err(|e| StoreError(e.to_string()))?
            .clone())
    }

    fn commit(&self, batch: Vec<Write>) -> Result<(), StoreError> {
        let mut disk = self.disk.lock().map_err(|e| StoreError(e.to_string()))?;
        for (k, v) in batch {
            match v {
                Some(v) => disk.insert(k, v),
                None => disk.remove(&k),
            };
        }
        Ok(())
    }
}

/// SQLite in a state directory, for the engine as a separate process.
pub struct SqliteStore {
    conn: Mutex<rusqlite::Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) `dir/engine.sqlite3`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError(format!("cannot create `{}`: {e}", dir.display())))?;
        let path = dir.join("engine.sqlite3");
        let conn = rusqlite::Connection::open(&path)
            .map_err(|e| StoreError(format!("cannot open `{}`: {e}", path.display())))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL);",
        )
        .map_err(|e| StoreError(e.to_string()))?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }
}

impl Store for SqliteStore {
    fn load_all(&self) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
        let conn = self.conn.lock().map_err(|e| StoreError(e.to_string()))?;
        let mut stmt = conn
            .prepare("SELECT k, v FROM kv ORDER BY k")
            .map_err(|e| StoreError(e.to_string()))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
            })
            .map_err(|e| StoreError(e.to_string()))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| StoreError(e.to_string()))
    }

    fn commit(&self, batch: Vec<Write>) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().map_err(|e| StoreError(e.to_string()))?;
        let tx = conn.transaction().map_err(|e| StoreError(e.to_string()))?;
        for (k, v) in batch {
            match v {
                Some(v) => tx.execute("INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v", rusqlite::params![k, v]),
                None => tx.execute("DELETE FROM kv WHERE k = ?1", rusqlite::params![k]),
            }
            .map_err(|e| StoreError(e.to_string()))?;
        }
        tx.commit().map_err(|e| StoreError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn Store) {
        store
            .commit(vec![
                ("a".into(), Some(b"1".to_vec())),
                ("b".into(), Some(b"2".to_vec())),
            ])
            .unwrap();
        store
            .commit(vec![("a".into(), None), ("c".into(), Some(b"3".to_vec()))])
            .unwrap();
        let all = store.load_all().unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(all["c"], b"3");
    }

    #[test]
    fn mem_store_keeps_committed_batches_across_clones() {
        let disk = MemStore::new();
        exercise(&disk);
        assert_eq!(disk.clone().load_all().unwrap().len(), 2);
    }

    #[test]
    fn sqlite_store_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("omnisim-store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store = SqliteStore::open(&dir).unwrap();
            exercise(&store);
        }
        let reopened = SqliteStore::open(&dir).unwrap();
        assert_eq!(reopened.load_all().unwrap().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
