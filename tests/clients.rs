//! Real PostgreSQL drivers, unchanged, against arbordb: one shared scenario
//! per client, every step asserted.
//!
//! | client         | where                                   | how it is run |
//! |----------------|-----------------------------------------|---------------|
//! | tokio-postgres | this file (`tokio_postgres_scenario`)   | in-process    |
//! | psycopg 3      | `tests/clients/python/scenario.py`      | `python3 … psycopg`  |
//! | psycopg2       | `tests/clients/python/scenario.py`      | `python3 … psycopg2` |
//! | asyncpg        | `tests/clients/python/scenario.py`      | `python3 … asyncpg`  |
//! | node-postgres  | `tests/clients/node/scenario.js`        | `node` (after `npm install` there) |
//! | pgjdbc         | `tests/clients/java/Scenario.java`      | `javac` + `java` with Debian's postgresql.jar |
//! | SQLAlchemy     | `tests/clients/python/reflection.py`    | `python3 … sqlalchemy` |
//! | Django         | `tests/clients/python/reflection.py`    | `python3 … django`     |
//! | pgjdbc metadata | `tests/clients/java/Reflection.java`   | `javac` + `java`, DatabaseMetaData |
//!
//! The scenario: connect with a SCRAM-SHA-256 password; create a table with
//! every storable type; parameterised inserts (one row of values, one of
//! NULLs); select in text and in binary format; update; delete; a
//! rolled-back and a committed transaction; an error inside a transaction
//! (25P02 until ROLLBACK); a unique violation (23505); a prepared statement
//! reused; 100k rows fetched (in batches where the driver can: portals with
//! row limits); a long query cancelled (57014) with the connection usable
//! after. Each script prints `ok <step>` lines and `SCENARIO PASSED <n>
//! steps`; it exits 77 when its driver is missing, and the test then skips
//! with that note (`.ci/run` installs every driver, so CI runs them all).
//!
//! SQLAlchemy, Django and pgjdbc's DatabaseMetaData run schema reflection instead (their own catalog
//! queries over pg_catalog: tables, views, columns with types, defaults and
//! nullability, primary key, composite foreign key with its action, UNIQUE
//! constraints, CHECKs, indexes, sequences), asserting what PostgreSQL 15
//! answers; they print `REFLECTION PASSED <n> steps`.
//!
//! `ARBORDB_CLIENTS_ORACLE=host:port:user` runs the scenarios against that
//! server (the reference PostgreSQL 15) instead, to check the scenarios.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use arbordb::Database;
use arbordb::server::{AuthMethod, BackgroundServer, InitialSuperuser, ServerConfig};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

const USER: &str = "scenario";
const PASSWORD: &str = "sc3nario-pässword";
/// The step count every client's scenario reports.
const STEPS: usize = 15;

/// Where a scenario connects: a fresh arbordb with SCRAM, or the oracle.
struct Target {
    _dir: Option<tempfile::TempDir>,
    server: Option<BackgroundServer>,
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
}

impl Target {
    fn new() -> Target {
        if let Ok(oracle) = std::env::var("ARBORDB_CLIENTS_ORACLE") {
            let parts: Vec<&str> = oracle.split(':').collect();
            assert_eq!(parts.len(), 3, "ARBORDB_CLIENTS_ORACLE=host:port:user");
            return Target {
                _dir: None,
                server: None,
                host: parts[0].into(),
                port: parts[1].parse().expect("oracle port"),
                user: parts[2].into(),
                password: None,
            };
        }
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let server = BackgroundServer::start_with(
            db,
            ServerConfig {
                auth: AuthMethod::Scram,
                initial_superuser: Some(InitialSuperuser {
                    name: USER.into(),
                    password: Some(PASSWORD.into()),
                    also: Vec::new(),
                }),
                ..ServerConfig::default()
            },
        )
        .unwrap();
        Target {
            port: server.addr().port(),
            _dir: Some(dir),
            server: Some(server),
            host: "127.0.0.1".into(),
            user: USER.into(),
            password: Some(PASSWORD.into()),
        }
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("PGHOST", &self.host)
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", &self.user)
            .env("PGDATABASE", "postgres")
            .env("PGSSLMODE", "disable");
        match &self.password {
            Some(p) => cmd.env("PGPASSWORD", p),
            None => cmd.env_remove("PGPASSWORD"),
        };
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown();
        }
    }
}

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Whether `program` runs at all.
fn available(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs one scenario script and asserts that every step passed; a script
/// exiting 77 (driver missing) skips with its note.
fn run_scenario(name: &str, cmd: Command) {
    run_script(name, cmd, "SCENARIO", STEPS);
}

/// Runs a script that prints `ok <step>` lines and `<marker> PASSED <steps>
/// steps`, asserting all of them; exit 77 skips.
fn run_script(name: &str, mut cmd: Command, marker: &str, steps: usize) {
    let target = Target::new();
    target.env(&mut cmd);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{name}: cannot run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(77) {
        eprintln!("note: skipping the {name} scenario: {}", stdout.trim());
        return;
    }
    assert!(
        out.status.success(),
        "{name} scenario failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{marker} PASSED {steps} steps")),
        "{name} scenario did not finish:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        steps,
        "{name}:\n{stdout}"
    );
}

/// Schema reflection by `library` (`reflection.py`), `steps` steps.
fn reflection(library: &str, steps: usize) {
    if !available("python3", "--version") {
        eprintln!("note: python3 is not installed; skipping {library} reflection");
        return;
    }
    let mut cmd = Command::new("python3");
    cmd.arg(clients_dir().join("python/reflection.py"))
        .arg(library);
    run_script(library, cmd, "REFLECTION", steps);
}

#[test]
fn sqlalchemy_reflects_the_schema() {
    reflection("sqlalchemy", 13);
}

#[test]
fn django_introspects_the_schema() {
    reflection("django", 9);
}

fn python(driver: &str) {
    if !available("python3", "--version") {
        eprintln!("note: python3 is not installed; skipping the {driver} scenario");
        return;
    }
    let mut cmd = Command::new("python3");
    cmd.arg(clients_dir().join("python/scenario.py"))
        .arg(driver);
    run_scenario(driver, cmd);
}

#[test]
fn psycopg3_runs_the_scenario() {
    python("psycopg");
}

#[test]
fn psycopg2_runs_the_scenario() {
    python("psycopg2");
}

#[test]
fn asyncpg_runs_the_scenario() {
    python("asyncpg");
}

#[test]
fn node_postgres_runs_the_scenario() {
    if !available("node", "--version") {
        eprintln!("note: node is not installed; skipping the node-postgres scenario");
        return;
    }
    let dir = clients_dir().join("node");
    let mut cmd = Command::new("node");
    cmd.arg("--no-deprecation")
        .arg(dir.join("scenario.js"))
        .current_dir(&dir);
    run_scenario("node-postgres", cmd);
}

/// Debian's libpostgresql-jdbc-java.
const PGJDBC_JAR: &str = "/usr/share/java/postgresql.jar";

#[test]
fn pgjdbc_runs_the_scenario() {
    java("Scenario", "SCENARIO", STEPS);
}

#[test]
fn pgjdbc_reflects_the_schema() {
    java("Reflection", "REFLECTION", 8);
}

/// Compiles `tests/clients/java/{class}.java` against Debian's pgjdbc and
/// runs it as a script of `steps` steps.
fn java(class: &str, marker: &str, steps: usize) {
    if !Path::new(PGJDBC_JAR).exists() || !available("javac", "-version") {
        eprintln!("note: {PGJDBC_JAR} or javac is missing; skipping pgjdbc {class}");
        return;
    }
    let classes = tempfile::tempdir().unwrap();
    let javac = Command::new("javac")
        .args(["-encoding", "UTF-8", "-d"])
        .arg(classes.path())
        .args(["-cp", PGJDBC_JAR])
        .arg(clients_dir().join(format!("java/{class}.java")))
        .output()
        .unwrap();
    assert!(
        javac.status.success(),
        "javac failed:\n{}",
        String::from_utf8_lossy(&javac.stderr)
    );
    let mut cmd = Command::new("java");
    cmd.arg("-Dfile.encoding=UTF-8")
        .arg("-cp")
        .arg(format!("{PGJDBC_JAR}:{}", classes.path().display()))
        .arg(class);
    run_script(&format!("pgjdbc {class}"), cmd, marker, steps);
}

// ------------------------------------------------------------ tokio-postgres

/// A parameter sent as the given binary bytes, whatever type the server
/// inferred (the test states the bytes PostgreSQL's binary format has).
#[derive(Debug)]
struct Raw(Vec<u8>);

impl ToSql for Raw {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }
    fn accepts(_ty: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// A result value as its binary bytes.
#[derive(Debug, PartialEq)]
struct RawOut(Vec<u8>);

impl<'a> tokio_postgres::types::FromSql<'a> for RawOut {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<RawOut, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawOut(raw.to_vec()))
    }
    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// Days from 2000-01-01 (PostgreSQL's epoch) to 2024-01-01.
const DAYS_2000_TO_2024: i64 = 24 * 365 + 6;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// One column of the scenario table: name, type, binary value written and
/// read, the type's OID and its text output.
struct Col {
    name: &'static str,
    ty: &'static str,
    oid: u32,
    binary: Vec<u8>,
    text: &'static str,
}

fn columns() -> Vec<Col> {
    let numeric = {
        // -12345.67890: digits 1 2345 6789 (base 10000), weight 1, negative, dscale 5.
        let mut b = Vec::new();
        for v in [3i16, 1, 0x4000, 5, 1, 2345, 6789] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b
    };
    let ts_micros =
        (DAYS_2000_TO_2024 + 1) * MICROS_PER_DAY + (3 * 3600 + 4 * 60 + 5) * 1_000_000 + 123_456;
    let tz_micros = (DAYS_2000_TO_2024 + 1) * MICROS_PER_DAY + (3 * 3600 + 4 * 60 + 5) * 1_000_000;
    let interval = {
        let mut b = ((4 * 3600 + 5) * 1_000_000i64).to_be_bytes().to_vec();
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        b
    };
    let uuid = vec![
        0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a,
        0x11,
    ];
    let mut jsonb = vec![1u8];
    jsonb.extend_from_slice(br#"{"k": "v", "n": [1, 2]}"#);
    vec![
        Col {
            name: "b",
            ty: "boolean",
            oid: 16,
            binary: vec![1],
            text: "t",
        },
        Col {
            name: "i2",
            ty: "smallint",
            oid: 21,
            binary: (-12345i16).to_be_bytes().to_vec(),
            text: "-12345",
        },
        Col {
            name: "i4",
            ty: "integer",
            oid: 23,
            binary: i32::MIN.to_be_bytes().to_vec(),
            text: "-2147483648",
        },
        Col {
            name: "i8",
            ty: "bigint",
            oid: 20,
            binary: i64::MAX.to_be_bytes().to_vec(),
            text: "9223372036854775807",
        },
        Col {
            name: "f4",
            ty: "real",
            oid: 700,
            binary: 1.5f32.to_be_bytes().to_vec(),
            text: "1.5",
        },
        Col {
            name: "f8",
            ty: "double precision",
            oid: 701,
            binary: std::f64::consts::PI.to_be_bytes().to_vec(),
            text: "3.141592653589793",
        },
        Col {
            name: "n",
            ty: "numeric(20,5)",
            oid: 1700,
            binary: numeric,
            text: "-12345.67890",
        },
        Col {
            name: "t",
            ty: "text",
            oid: 25,
            binary: "héllo, wörld ✓".as_bytes().to_vec(),
            text: "héllo, wörld ✓",
        },
        Col {
            name: "vc",
            ty: "varchar(20)",
            oid: 1043,
            binary: b"varchar".to_vec(),
            text: "varchar",
        },
        Col {
            name: "c",
            ty: "char(5)",
            oid: 1042,
            binary: b"ab   ".to_vec(),
            text: "ab   ",
        },
        Col {
            name: "by",
            ty: "bytea",
            oid: 17,
            binary: vec![0, 1, 0xff, b'a', b'b', b'c'],
            text: "\\x0001ff616263",
        },
        Col {
            name: "d",
            ty: "date",
            oid: 1082,
            binary: ((DAYS_2000_TO_2024 + 59) as i32).to_be_bytes().to_vec(),
            text: "2024-02-29",
        },
        Col {
            name: "tm",
            ty: "time",
            oid: 1083,
            binary: 47_655_500_000i64.to_be_bytes().to_vec(),
            text: "13:14:15.5",
        },
        Col {
            name: "ts",
            ty: "timestamp",
            oid: 1114,
            binary: ts_micros.to_be_bytes().to_vec(),
            text: "2024-01-02 03:04:05.123456",
        },
        Col {
            name: "tz",
            ty: "timestamptz",
            oid: 1184,
            binary: tz_micros.to_be_bytes().to_vec(),
            text: "2024-01-02 03:04:05+00",
        },
        Col {
            name: "iv",
            ty: "interval",
            oid: 1186,
            binary: interval,
            text: "3 days 04:00:05",
        },
        Col {
            name: "u",
            ty: "uuid",
            oid: 2950,
            binary: uuid,
            text: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        },
        Col {
            name: "j",
            ty: "json",
            oid: 114,
            binary: br#"{"a": 1, "b": [true, null]}"#.to_vec(),
            text: r#"{"a": 1, "b": [true, null]}"#,
        },
        Col {
            name: "jb",
            ty: "jsonb",
            oid: 3802,
            binary: jsonb,
            text: r#"{"k": "v", "n": [1, 2]}"#,
        },
    ]
}

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| format!("no SQLSTATE: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_runs_the_scenario() {
    let target = Target::new();
    let mut config = tokio_postgres::Config::new();
    config
        .host(&target.host)
        .port(target.port)
        .user(&target.user)
        .dbname("postgres");
    if let Some(p) = &target.password {
        config.password(p);
    }
    // connect with a SCRAM password
    let (mut client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let who: String = client
        .query_one("SELECT current_user", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, target.user);
    client.batch_execute("SET TimeZone = 'UTC'").await.unwrap();

    // create a table with every supported type
    let cols = columns();
    let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
    let defs: Vec<String> = cols
        .iter()
        .map(|c| format!("{} {}", c.name, c.ty))
        .collect();
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS scenario_rust; CREATE TABLE scenario_rust (id integer PRIMARY KEY, {})",
            defs.join(", ")
        ))
        .await
        .unwrap();

    // parameterised inserts, every parameter's type inferred from its column
    let placeholders: Vec<String> = (1..=cols.len() + 1).map(|i| format!("${i}")).collect();
    let insert = client
        .prepare(&format!(
            "INSERT INTO scenario_rust (id, {}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        ))
        .await
        .unwrap();
    let inferred: Vec<u32> = insert.params().iter().map(Type::oid).collect();
    let mut want = vec![23];
    want.extend(cols.iter().map(|c| c.oid));
    assert_eq!(inferred, want, "inferred parameter types");
    let values: Vec<Raw> = cols.iter().map(|c| Raw(c.binary.clone())).collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&1i32];
    params.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
    assert_eq!(client.execute(&insert, &params).await.unwrap(), 1);
    let nulls: Vec<Option<Raw>> = cols.iter().map(|_| None).collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&2i32];
    params.extend(nulls.iter().map(|v| v as &(dyn ToSql + Sync)));
    assert_eq!(client.execute(&insert, &params).await.unwrap(), 1);

    // select in binary format (the extended protocol: tokio-postgres asks for binary)
    let select = format!(
        "SELECT {} FROM scenario_rust WHERE id = $1",
        names.join(", ")
    );
    let row = client.query_one(&select, &[&1i32]).await.unwrap();
    for (i, c) in cols.iter().enumerate() {
        assert_eq!(
            row.columns()[i].type_().oid(),
            c.oid,
            "column {} type",
            c.name
        );
        let got: RawOut = row.get(i);
        assert_eq!(got.0, c.binary, "column {} in binary", c.name);
    }
    let row = client.query_one(&select, &[&2i32]).await.unwrap();
    for (i, c) in cols.iter().enumerate() {
        let got: Option<RawOut> = row.get(i);
        assert_eq!(got, None, "NULL column {}", c.name);
    }
    // native Rust types too
    let row = client
        .query_one(
            "SELECT b, i2, i4, i8, f4, f8, t, vc, by FROM scenario_rust WHERE id = $1",
            &[&1i32],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, i16>(1), -12345);
    assert_eq!(row.get::<_, i32>(2), i32::MIN);
    assert_eq!(row.get::<_, i64>(3), i64::MAX);
    assert_eq!(row.get::<_, f32>(4), 1.5);
    assert_eq!(row.get::<_, f64>(5), std::f64::consts::PI);
    assert_eq!(row.get::<_, &str>(6), "héllo, wörld ✓");
    assert_eq!(row.get::<_, &str>(7), "varchar");
    assert_eq!(row.get::<_, Vec<u8>>(8), vec![0, 1, 0xff, b'a', b'b', b'c']);

    // select in text format (the simple protocol)
    let text = client
        .simple_query(&format!(
            "SELECT {} FROM scenario_rust ORDER BY id",
            names.join(", ")
        ))
        .await
        .unwrap();
    let rows: Vec<&tokio_postgres::SimpleQueryRow> = text
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(rows.len(), 2);
    for (i, c) in cols.iter().enumerate() {
        assert_eq!(rows[0].get(i), Some(c.text), "column {} in text", c.name);
        assert_eq!(rows[1].get(i), None, "NULL column {} in text", c.name);
    }

    // update, delete
    let n = client
        .execute(
            "UPDATE scenario_rust SET t = $1, i4 = i4 + 1 WHERE id = $2",
            &[&"updated", &1i32],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let row = client
        .query_one("SELECT t, i4 FROM scenario_rust WHERE id = 1", &[])
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, &str>(0), row.get::<_, i32>(1)),
        ("updated", i32::MIN + 1)
    );
    assert_eq!(
        client
            .execute("DELETE FROM scenario_rust WHERE id = $1", &[&2i32])
            .await
            .unwrap(),
        1
    );

    // a rolled-back and a committed transaction
    let tx = client.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO scenario_rust (id, t) VALUES ($1, $2)",
        &[&10i32, &"rolled back"],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM scenario_rust WHERE id = 10", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let tx = client.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO scenario_rust (id, t) VALUES ($1, $2)",
        &[&11i32, &"committed"],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let t: String = client
        .query_one("SELECT t FROM scenario_rust WHERE id = 11", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(t, "committed");

    // an error inside a transaction: 25P02 until ROLLBACK
    client.batch_execute("BEGIN").await.unwrap();
    let e = client
        .query("SELECT 1 / (id - id) FROM scenario_rust", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22012");
    let e = client.query("SELECT $1::int", &[&1i32]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02");
    let e = client.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02");
    client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        client
            .query_one("SELECT 1", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        1
    );

    // a unique violation
    let e = client
        .execute("INSERT INTO scenario_rust (id) VALUES ($1)", &[&1i32])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23505");

    // a prepared statement reused
    let stmt = client
        .prepare("SELECT id, t FROM scenario_rust WHERE id = $1")
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[Type::INT4]);
    assert_eq!(
        stmt.columns().iter().map(|c| c.name()).collect::<Vec<_>>(),
        ["id", "t"]
    );
    for _ in 0..8 {
        let rows = client.query(&stmt, &[&11i32]).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<_, &str>(1), "committed");
        assert!(client.query(&stmt, &[&12345i32]).await.unwrap().is_empty());
    }

    // 100k rows fetched, through a portal 1000 rows at a time
    client
        .batch_execute(
            "DROP TABLE IF EXISTS scenario_big_rust; CREATE TABLE scenario_digits (d integer); \
             INSERT INTO scenario_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9); \
             CREATE TABLE scenario_big_rust (n integer PRIMARY KEY); \
             INSERT INTO scenario_big_rust SELECT a.d + 10 * b.d + 100 * c.d + 1000 * d.d + 10000 * e.d \
             FROM scenario_digits a, scenario_digits b, scenario_digits c, scenario_digits d, scenario_digits e; \
             DROP TABLE scenario_digits",
        )
        .await
        .unwrap();
    let rows = client
        .query(
            "SELECT n, md5(n::text) FROM scenario_big_rust ORDER BY n",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 100_000);
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, r)| r.get::<_, i32>(0) == i as i32)
    );
    let tx = client.transaction().await.unwrap();
    let portal = tx
        .bind("SELECT n FROM scenario_big_rust ORDER BY n", &[])
        .await
        .unwrap();
    let (mut seen, mut batches) = (0i64, 0);
    loop {
        let batch = tx.query_portal(&portal, 1000).await.unwrap();
        for r in &batch {
            assert_eq!(r.get::<_, i32>(0) as i64, seen);
            seen += 1;
        }
        batches += 1;
        if batch.len() < 1000 {
            break;
        }
    }
    tx.commit().await.unwrap();
    assert_eq!(seen, 100_000);
    assert!(batches >= 100, "{batches} batches");

    // a cancelled long query
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel_query(tokio_postgres::NoTls).await
    });
    let start = std::time::Instant::now();
    let e = client.query("SELECT pg_sleep(30)", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "57014");
    assert!(start.elapsed() < Duration::from_secs(10));
    canceller.await.unwrap().unwrap();
    assert_eq!(
        client
            .query_one("SELECT 2", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        2
    );

    client
        .batch_execute("DROP TABLE scenario_rust; DROP TABLE scenario_big_rust")
        .await
        .unwrap();
}
