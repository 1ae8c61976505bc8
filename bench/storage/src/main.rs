//! arbordb's storage engine against SQLite, same workloads, same run.
//!
//! Loads N random 16-byte keys with 100-byte values, then times random point
//! lookups of loaded keys, one full ordered scan, and random inserts of new
//! keys. SQLite gets a `WITHOUT ROWID` table with a blob primary key, the
//! same page size (8 KiB) and cache size as arbordb's pool, `journal_mode =
//! OFF`, `synchronous = OFF` and an exclusive lock, and each phase runs in
//! one transaction, so neither side pays for durability.
//!
//! The read-only phases run `--rounds` times (default 3), alternating
//! between the engines, and report medians; the inserts run in as many
//! batches of new keys, alternating, and report the sum.
//!
//! Usage: `storage-bench --n 1000000 --pool-mib 64 [--lookups L] [--inserts I] [--rounds R] [--dir D]`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arbordb::storage::{Engine, EngineOptions, PAGE_SIZE};

struct Args {
    n: u64,
    pool_mib: u64,
    lookups: u64,
    inserts: u64,
    dir: PathBuf,
    /// Run only arbordb (for profiling).
    only_arbordb: bool,
    /// Rounds of the read-only phases (medians are reported).
    rounds: usize,
    /// Keep the data directory afterwards (for `arbordb check`).
    keep: bool,
}

fn parse() -> Args {
    let mut a = Args {
        n: 1_000_000,
        pool_mib: 0,
        lookups: 0,
        inserts: 0,
        dir: std::env::temp_dir().join("arbordb-storage-bench"),
        only_arbordb: false,
        rounds: 3,
        keep: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < argv.len() {
        let v = &argv[i + 1];
        let num = || v.replace('_', "").parse::<u64>().expect("a number");
        match argv[i].as_str() {
            "--n" => a.n = num(),
            "--pool-mib" => a.pool_mib = num(),
            "--lookups" => a.lookups = num(),
            "--inserts" => a.inserts = num(),
            "--dir" => a.dir = PathBuf::from(v),
            "--only" => a.only_arbordb = v == "arbordb",
            "--rounds" => a.rounds = (num() as usize).max(1),
            "--keep" => a.keep = v == "1" || v == "true",
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    if a.pool_mib == 0 {
        // large enough for everything: ~2x the raw data
        a.pool_mib = (a.n * 250).div_ceil(1 << 20).max(16);
    }
    if a.lookups == 0 {
        a.lookups = a.n.min(1_000_000);
    }
    if a.inserts == 0 {
        a.inserts = (a.n / 10).clamp(1, 1_000_000);
    }
    a
}

/// splitmix64: key i is a fixed pseudo-random 16 bytes.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&mix(i).to_be_bytes());
    k[8..].copy_from_slice(&mix(i ^ 0xDEAD_BEEF).to_be_bytes());
    k
}

fn value(i: u64) -> [u8; 100] {
    let mut v = [0u8; 100];
    for (j, c) in v.chunks_mut(8).enumerate() {
        let b = mix(i.wrapping_add(j as u64)).to_le_bytes();
        c.copy_from_slice(&b[..c.len()]);
    }
    v
}

#[derive(Default, Clone, Copy)]
struct Times {
    load: Duration,
    lookup: Duration,
    scan: Duration,
    insert: Duration,
}

trait Store {
    fn name(&self) -> &'static str;
    fn load(&mut self, n: u64);
    fn lookups(&mut self, n: u64, count: u64) -> u64;
    fn scan(&mut self) -> u64;
    fn inserts(&mut self, n: u64, count: u64);
}

struct Arbor {
    engine: Engine,
    tree: arbordb::storage::Tree,
}

impl Store for Arbor {
    fn name(&self) -> &'static str {
        "arbordb"
    }
    fn load(&mut self, n: u64) {
        for i in 0..n {
            self.tree.insert(&key(i), &value(i)).unwrap();
        }
        // what SQLite's COMMIT does with synchronous = OFF
        self.engine.write_back().unwrap();
    }
    fn lookups(&mut self, n: u64, count: u64) -> u64 {
        let mut found = 0;
        for j in 0..count {
            let i = mix(j ^ 0x1234) % n;
            if let Some(v) = self.tree.get(&key(i)).unwrap() {
                found += u64::from(v[0] == value(i)[0]);
            }
        }
        found
    }
    fn scan(&mut self) -> u64 {
        let mut rows = 0;
        let mut last = [0u8; 16];
        // borrowed rows, as SQLite's `get_ref` below
        let mut c = self.tree.iter();
        while let Some((k, v)) = c.next_ref().unwrap() {
            assert!(k > &last[..] || rows == 0);
            last.copy_from_slice(k);
            rows += u64::from(v.len() == 100);
        }
        rows
    }
    fn inserts(&mut self, n: u64, count: u64) {
        for j in 0..count {
            let i = n + j;
            self.tree.insert(&key(i), &value(i)).unwrap();
        }
        self.engine.write_back().unwrap();
    }
}

struct Lite {
    conn: rusqlite::Connection,
}

impl Store for Lite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn load(&mut self, n: u64) {
        let tx = self.conn.transaction().unwrap();
        {
            let mut st = tx.prepare("INSERT INTO t (k, v) VALUES (?1, ?2)").unwrap();
            for i in 0..n {
                st.execute((&key(i)[..], &value(i)[..])).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    fn lookups(&mut self, n: u64, count: u64) -> u64 {
        let tx = self.conn.transaction().unwrap();
        let mut found = 0;
        {
            let mut st = tx.prepare("SELECT v FROM t WHERE k = ?1").unwrap();
            for j in 0..count {
                let i = mix(j ^ 0x1234) % n;
                let mut rows = st.query([&key(i)[..]]).unwrap();
                if let Some(row) = rows.next().unwrap() {
                    let v = row.get_ref(0).unwrap().as_blob().unwrap().to_vec();
                    found += u64::from(v[0] == value(i)[0]);
                }
            }
        }
        tx.commit().unwrap();
        found
    }
    fn scan(&mut self) -> u64 {
        let tx = self.conn.transaction().unwrap();
        let mut n = 0;
        {
            let mut st = tx.prepare("SELECT k, v FROM t ORDER BY k").unwrap();
            let mut rows = st.query([]).unwrap();
            let mut last = [0u8; 16];
            while let Some(row) = rows.next().unwrap() {
                // borrowed, as arbordb's `next_ref` above
                let k = row.get_ref(0).unwrap().as_blob().unwrap();
                let v = row.get_ref(1).unwrap().as_blob().unwrap();
                assert!(k > &last[..] || n == 0);
                last.copy_from_slice(k);
                n += u64::from(v.len() == 100);
            }
        }
        tx.commit().unwrap();
        n
    }
    fn inserts(&mut self, n: u64, count: u64) {
        let tx = self.conn.transaction().unwrap();
        {
            let mut st = tx.prepare("INSERT INTO t (k, v) VALUES (?1, ?2)").unwrap();
            for j in 0..count {
                let i = n + j;
                st.execute((&key(i)[..], &value(i)[..])).unwrap();
            }
        }
        tx.commit().unwrap();
    }
}

fn fresh(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
}

/// Median of `rounds` timings of `f`.
fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Both engines, phase by phase: the read-only phases (lookups, scan) run
/// `rounds` times alternating between the engines, so that drifting load on
/// a shared machine hits both alike; each reports its median.
fn run(stores: &mut [&mut dyn Store; 2], a: &Args) -> [Times; 2] {
    let mut t = [Times::default(); 2];
    for (i, store) in stores.iter_mut().enumerate() {
        let s = Instant::now();
        store.load(a.n);
        t[i].load = s.elapsed();
        eprintln!("  {}: loaded {} keys in {:.1?}", store.name(), a.n, t[i].load);
    }
    let mut lookups = [Vec::new(), Vec::new()];
    let mut scans = [Vec::new(), Vec::new()];
    for round in 0..a.rounds {
        for (i, store) in stores.iter_mut().enumerate() {
            let s = Instant::now();
            let found = store.lookups(a.n, a.lookups);
            lookups[i].push(s.elapsed());
            assert_eq!(found, a.lookups, "{}: lookups missed", store.name());
        }
        for (i, store) in stores.iter_mut().enumerate() {
            let s = Instant::now();
            let rows = store.scan();
            let d = s.elapsed();
            scans[i].push(d);
            eprintln!("  {}: round {round}: scanned {rows} rows in {d:.1?}", store.name());
            assert_eq!(rows, a.n, "{}: scan saw the wrong number of rows", store.name());
        }
    }
    for i in 0..2 {
        t[i].lookup = median(std::mem::take(&mut lookups[i]));
        t[i].scan = median(std::mem::take(&mut scans[i]));
    }
    // inserts change the data, so they do not repeat: they run in `rounds`
    // batches of new keys, alternating, and the batch times add up
    let batch = a.inserts.div_ceil(a.rounds as u64);
    let mut from = a.n;
    while from < a.n + a.inserts {
        let count = batch.min(a.n + a.inserts - from);
        for (i, store) in stores.iter_mut().enumerate() {
            let s = Instant::now();
            store.inserts(from, count);
            t[i].insert += s.elapsed();
        }
        from += count;
    }
    t
}

fn rate(count: u64, d: Duration) -> f64 {
    count as f64 / d.as_secs_f64()
}

fn fmt_n(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}K", n / 1000)
    } else {
        n.to_string()
    }
}

fn main() {
    let a = parse();
    let frames = (a.pool_mib << 20) as usize / PAGE_SIZE;
    eprintln!(
        "N={} pool {} MiB ({} frames), {} lookups, {} inserts, dir {}",
        a.n,
        a.pool_mib,
        frames,
        a.lookups,
        a.inserts,
        a.dir.display()
    );
    let adir = a.dir.join("arbordb");
    let sdir = a.dir.join("sqlite");
    fresh(&adir);
    fresh(&sdir);

    let engine = Engine::open_dir(
        &adir,
        EngineOptions {
            buffer_pool_frames: frames,
        },
    )
    .unwrap();
    let tree = engine.create_tree().unwrap();
    let mut arbor = Arbor { engine, tree };
    let conn = rusqlite::Connection::open(sdir.join("bench.sqlite")).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA page_size = {PAGE_SIZE};
         PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA cache_size = -{};
         CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;",
        a.pool_mib * 1024
    ))
    .unwrap();
    let mut lite = Lite { conn };
    if a.only_arbordb {
        // profiling: arbordb's phases alone
        let s = Instant::now();
        arbor.load(a.n);
        eprintln!("  arbordb: load {:.1?}", s.elapsed());
        for _ in 0..a.rounds {
            let s = Instant::now();
            assert_eq!(arbor.scan(), a.n);
            eprintln!("  arbordb: scan {:.1?}", s.elapsed());
        }
        eprintln!("  arbordb pool: {:?}", arbor.engine.pool_stats());
        let _ = std::fs::remove_dir_all(&a.dir);
        return;
    }
    let [ta, ts] = run(&mut [&mut arbor, &mut lite], &a);
    eprintln!("  arbordb pool: {:?}", arbor.engine.pool_stats());
    drop(arbor);
    drop(lite);
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len()) / PAGE_SIZE as u64;
    eprintln!(
        "  file pages: arbordb {}, sqlite {}",
        size(adir.join(arbordb::storage::engine::DATA_FILE_NAME)),
        size(sdir.join("bench.sqlite"))
    );
    if a.keep {
        eprintln!("  kept {}", a.dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&a.dir);
    }

    println!(
        "| N={} pool {} MiB | arbordb ops/s | sqlite ops/s | ratio |",
        fmt_n(a.n),
        a.pool_mib
    );
    println!("|---|---:|---:|---:|");
    let rows = [
        ("load (random order)", a.n, ta.load, ts.load),
        ("point lookup", a.lookups, ta.lookup, ts.lookup),
        ("full ordered scan (rows)", a.n, ta.scan, ts.scan),
        ("random insert", a.inserts, ta.insert, ts.insert),
    ];
    let mut ratios = Vec::new();
    for (name, count, da, ds) in rows {
        let (ra, rs) = (rate(count, da), rate(count, ds));
        ratios.push(ra / rs);
        println!("| {name} | {ra:.0} | {rs:.0} | {:.2} |", ra / rs);
    }
    println!(
        "storage: lookup {:.2}x sqlite, insert {:.2}x sqlite, scan {:.2}x sqlite (N={}, pool {}MiB)",
        ratios[1],
        ratios[3],
        ratios[2],
        fmt_n(a.n),
        a.pool_mib
    );
}
