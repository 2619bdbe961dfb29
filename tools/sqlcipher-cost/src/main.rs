//! Measures what SQLCipher would cost Hearth's store: message inserts (one transaction each, as the
//! engine ingests), a page of a conversation, and a full-text search; plus opening the database.
use rusqlite::{params, Connection};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(5000);
    let rounds = 5;
    let (mut ins, mut page, mut fts, mut open) = (vec![], vec![], vec![], vec![]);
    for r in 0..rounds {
        let dir = std::env::temp_dir().join(format!("sqlc-{}-{r}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hearth.db");
        let t = Instant::now();
        let c = Connection::open(&path).unwrap();
        if cfg!(feature = "cipher") {
            // A raw 256-bit key, as it would come from the OS keychain (no passphrase KDF).
            c.execute_batch("PRAGMA key = \"x'2DD29CA851E7B56E4697B0E1F08507293D761A05CE4D1B628663F411A8086D99'\";").unwrap();
        }
        c.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             CREATE TABLE messages (id BLOB PRIMARY KEY, chat BLOB NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL) STRICT;
             CREATE INDEX by_chat ON messages(chat, at);
             CREATE VIRTUAL TABLE search USING fts5(body, content='', tokenize='unicode61');",
        )
        .unwrap();
        open.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        for i in 0..n {
            let tx = c.unchecked_transaction().unwrap();
            let id: [u8; 16] = (i as u128).to_le_bytes();
            let chat = [(i % 8) as u8; 16];
            let body = format!("message {i}: dinner at seven, bring the kimchi — 할머니 {}", i * 7919 % 1000);
            tx.execute("INSERT INTO messages VALUES (?1, ?2, ?3, ?4)", params![id, chat, i as i64, body]).unwrap();
            tx.execute("INSERT INTO search (rowid, body) VALUES (last_insert_rowid(), ?1)", [body]).unwrap();
            tx.commit().unwrap();
        }
        ins.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
        let t = Instant::now();
        for k in 0..200 {
            let chat = [(k % 8) as u8; 16];
            let mut st = c.prepare_cached("SELECT id, body FROM messages WHERE chat = ?1 ORDER BY at DESC LIMIT 50").unwrap();
            let rows: Vec<(Vec<u8>, String)> = st.query_map([chat], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|r| r.unwrap()).collect();
            assert_eq!(rows.len(), 50);
        }
        page.push(t.elapsed().as_secs_f64() * 1e6 / 200.0);
        let t = Instant::now();
        for k in 0..100 {
            let q = format!("\"{}\"", k * 10 % 1000);
            let mut st = c.prepare_cached("SELECT rowid FROM search WHERE search MATCH ?1 LIMIT 20").unwrap();
            let _: Vec<i64> = st.query_map([q], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
        }
        fts.push(t.elapsed().as_secs_f64() * 1e6 / 100.0);
        drop(c);
        let size: u64 = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
        if r == 0 {
            eprintln!("db bytes: {size}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    println!(
        "{} n={n}: open+schema {:.2} ms, insert {:.1} us/msg, page of 50 {:.1} us, fts {:.1} us (medians of {rounds})",
        if cfg!(feature = "cipher") { "sqlcipher" } else { "sqlite" },
        median(open), median(ins), median(page), median(fts)
    );
}
