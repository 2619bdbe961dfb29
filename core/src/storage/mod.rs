//! SQLite storage: the one database file of a device.
//!
//! WAL mode, foreign keys on, `synchronous = FULL` (a commit is on disk before we say "sent"),
//! `STRICT` tables, numbered migrations embedded in the binary and tracked with
//! `PRAGMA user_version`. One writer (the engine thread) owns the write connection; reads use
//! their own connections ([`readers::Readers`]) and never block it.

pub mod private;
pub mod readers;

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Migrations in order; index + 1 is the schema version after applying it.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_network.sql"),
    include_str!("migrations/0003_refusals.sql"),
    include_str!("migrations/0004_app.sql"),
    include_str!("migrations/0005_mailboxes.sql"),
    include_str!("migrations/0006_membership.sql"),
    include_str!("migrations/0007_topic_secrets.sql"),
    include_str!("migrations/0008_public_peers.sql"),
    include_str!("migrations/0009_nostr.sql"),
    include_str!("migrations/0010_blobs.sql"),
];

/// Wait this long for a lock held by a reader checkpointing the WAL.
const BUSY_TIMEOUT_MS: u64 = 5_000;

pub fn open_writer(path: &Path) -> Result<Connection> {
    private::database(path).map_err(|e| Error::OpenDatabase {
        path: path.into(),
        cause: e.to_string(),
    })?;
    let conn = open(path, false)?;
    migrate(&conn).map_err(|e| Error::OpenDatabase {
        path: path.into(),
        cause: e.to_string(),
    })?;
    Ok(conn)
}

pub fn open(path: &Path, read_only: bool) -> Result<Connection> {
    let wrap = |e: rusqlite::Error| Error::OpenDatabase {
        path: path.into(),
        cause: e.to_string(),
    };
    let flags = if read_only {
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(wrap)?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(wrap)?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(wrap)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(wrap)?;
    // The engine's hot statements all stay prepared.
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

pub fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .map(|v| v as usize)
}

/// Applies every migration newer than the database, each in its own transaction.
pub fn migrate(conn: &Connection) -> Result<()> {
    migrate_to(conn, MIGRATIONS.len())
}

pub fn migrate_to(conn: &Connection, target: usize) -> Result<()> {
    let current = schema_version(conn)?;
    if current > MIGRATIONS.len() {
        return Err(Error::Invalid(format!(
            "this database was written by a newer Hearth (schema {current}); update Hearth"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(current) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Runs SQLite's own consistency check.
pub fn integrity_check(conn: &Connection) -> Result<()> {
    let res: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if res == "ok" {
        Ok(())
    } else {
        Err(Error::Corrupt(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(conn: &Connection) -> Vec<(String, String)> {
        let mut st = conn
            .prepare("SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// Every upgrade path (from each older version, one step at a time) ends at the same
    /// schema as a fresh database.
    #[test]
    fn every_upgrade_path_equals_fresh_schema() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = open_writer(&dir.path().join("fresh.db")).unwrap();
        assert_eq!(schema_version(&fresh).unwrap(), MIGRATIONS.len());
        for start in 0..MIGRATIONS.len() {
            let conn = open(&dir.path().join(format!("from{start}.db")), false).unwrap();
            migrate_to(&conn, start).unwrap();
            for step in start + 1..=MIGRATIONS.len() {
                migrate_to(&conn, step).unwrap();
            }
            assert_eq!(schema(&conn), schema(&fresh), "upgrade from {start}");
            integrity_check(&conn).unwrap();
        }
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("db")).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        assert!(migrate(&conn).is_err());
    }

    #[test]
    fn hot_queries_use_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("db")).unwrap();
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT id FROM messages WHERE chat = ?1 \
                 ORDER BY sent_at DESC, id DESC LIMIT 50",
            )
            .unwrap()
            .query_map([b"x".to_vec()], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("messages_by_chat")),
            "{plan:?}"
        );
        let plan: Vec<String> = conn
            .prepare("EXPLAIN QUERY PLAN SELECT chat FROM chats ORDER BY last_at DESC")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(plan.iter().any(|p| p.contains("chats_by_last")), "{plan:?}");
    }
}
