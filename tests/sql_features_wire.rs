//! The query features of issue #7 over the extended protocol (Parse /
//! Describe / Bind / Execute with parameters): data-modifying WITH, whose
//! result columns Describe must know before anything runs, row
//! comparisons with parameters, grouping sets, DISTINCT ON and the
//! set-returning regexp functions. Expected values are PostgreSQL 15's.

use arbordb::Database;
use arbordb::server::BackgroundServer;
use tokio_postgres::{Client, NoTls};

async fn connect(srv: &BackgroundServer) -> Client {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={} user=postgres", srv.addr().port()),
        NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

#[tokio::test]
async fn modifying_with_and_row_features_take_parameters() {
    let srv = BackgroundServer::start(Database::in_memory().unwrap()).unwrap();
    let c = connect(&srv).await;
    c.batch_execute(
        "create table a(x int, y text); create table b(x int, y text);
         insert into a values (1, 'p'), (2, 'q'), (3, 'r')",
    )
    .await
    .unwrap();

    // Describe knows the RETURNING columns of the main INSERT.
    let stmt = c
        .prepare("with m as (delete from a where x = $1 returning *) insert into b select * from m returning x, y")
        .await
        .unwrap();
    let names: Vec<&str> = stmt.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["x", "y"]);
    let rows = c.query(&stmt, &[&1i32]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i32>(0), 1);
    assert_eq!(rows[0].get::<_, String>(1), "p");
    // It ran once: the row moved.
    let left: i64 = c
        .query_one("select count(*) from a", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 2);

    // A parameter inside a WITH UPDATE, read by the main SELECT.
    let n: i64 = c
        .query_one(
            "with m as (update a set y = $1 returning *) select count(*) from m",
            &[&"z"],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    let ys: Vec<String> = c
        .query("select y from a order by x", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ys, ["z", "z"]);

    // Row comparison with parameters.
    let hits: Vec<i32> = c
        .query(
            "select x from a where (x, y) >= ($1, $2) order by x",
            &[&2i32, &"z"],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(hits, [2, 3]);

    // GROUPING() and ROLLUP under Describe: int4 and bigint columns.
    let rows = c
        .query(
            "select x, grouping(x), count(*) from a group by rollup (x) order by 2, 1",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(Option<i32>, i32, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(got, [(Some(2), 0, 1), (Some(3), 0, 1), (None, 1, 2)]);

    // DISTINCT ON with a parameter in the filter.
    let rows = c
        .query(
            "select distinct on (y) y, x from a where x > $1 order by y, x desc",
            &[&0i32],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i32>(1), 3);

    // regexp_matches as a set of text[] (arrays have no binary output
    // yet, so the first element is read).
    let rows = c
        .query("select (regexp_matches($1, '\\d', 'g'))[1]", &[&"a1b2"])
        .await
        .unwrap();
    let got: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(got, ["1", "2"]);
    srv.shutdown();
}
