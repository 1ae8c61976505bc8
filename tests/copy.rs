//! COPY over the wire with tokio-postgres (extended protocol: copy_in /
//! copy_out) and the simple protocol: text and CSV in both directions,
//! CopyData split anywhere, errors by line with PostgreSQL 15's CONTEXT,
//! CopyFail, and the transaction a failed COPY leaves behind. Expected
//! answers are PostgreSQL 15's to the same statements and data.

use arbordb::Database;
use arbordb::server::BackgroundServer;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

fn server() -> BackgroundServer {
    BackgroundServer::start(Database::in_memory().unwrap()).unwrap()
}

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

async fn copy_in(
    client: &Client,
    sql: &str,
    chunks: &[&str],
) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(sql).await?;
    futures::pin_mut!(sink);
    for c in chunks {
        sink.send(Bytes::copy_from_slice(c.as_bytes())).await?;
    }
    sink.finish().await
}

async fn copy_out(client: &Client, sql: &str) -> String {
    let stream = client.copy_out(sql).await.unwrap();
    futures::pin_mut!(stream);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    String::from_utf8(out).unwrap()
}

async fn rows(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect()
}

fn db_error(e: &tokio_postgres::Error) -> (String, String, Option<String>) {
    let d = e
        .as_db_error()
        .unwrap_or_else(|| panic!("not a server error: {e}"));
    (
        d.code().code().to_owned(),
        d.message().to_owned(),
        d.where_().map(str::to_owned),
    )
}

#[tokio::test]
async fn text_and_csv_data_go_in_and_come_out_as_postgres_writes_them() {
    let srv = server();
    let c = connect(&srv).await;
    c.batch_execute("create table t (a int, b text, c char(5))")
        .await
        .unwrap();
    // Lines split across CopyData messages anywhere, escapes, NULLs.
    let n = copy_in(
        &c,
        "copy t from stdin",
        &["1\tx\\ty\tab\n2\t\\N", "\t\\N\n", "3\tback\\\\slash\tz\n"],
    )
    .await
    .unwrap();
    assert_eq!(n, 3);
    let n = copy_in(
        &c,
        "copy t (b, a) from stdin with (format csv, header)",
        &["b,a\n\"q,\"\"r\",4\n,5\n\"\",6"],
    )
    .await
    .unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        copy_out(&c, "copy t to stdout").await,
        "1\tx\\ty\tab   \n2\t\\N\t\\N\n3\tback\\\\slash\tz    \n4\tq,\"r\t\\N\n5\t\\N\t\\N\n6\t\t\\N\n"
    );
    assert_eq!(
        copy_out(&c, "copy t (a, b) to stdout with (format csv, header)").await,
        "a,b\n1,x\ty\n2,\n3,back\\slash\n4,\"q,\"\"r\"\n5,\n6,\"\"\n"
    );
    assert_eq!(
        copy_out(
            &c,
            "copy (select a * 10, b from t where a > 4) to stdout with (delimiter '|', null 'NULL')"
        )
        .await,
        "50|NULL\n60|\n"
    );
}

#[tokio::test]
async fn bad_lines_are_reported_by_line_and_undo_the_copy() {
    let srv = server();
    let c = connect(&srv).await;
    c.batch_execute("create table t (a int not null, b text)")
        .await
        .unwrap();
    let cases: [(&str, &str, &str, &str); 4] = [
        (
            "1\tx\nz\ty\n",
            "22P02",
            "invalid input syntax for type integer: \"z\"",
            "COPY t, line 2, column a: \"z\"",
        ),
        (
            "1\tx\n2\ty\n3\n",
            "22P04",
            "missing data for column \"b\"",
            "COPY t, line 3: \"3\"",
        ),
        (
            "1\tx\t9\n",
            "22P04",
            "extra data after last expected column",
            "COPY t, line 1: \"1\tx\t9\"",
        ),
        (
            "\\N\tx\n",
            "23502",
            "null value in column \"a\" of relation \"t\" violates not-null constraint",
            "COPY t, line 1: \"\\N\tx\"",
        ),
    ];
    for (data, code, message, context) in cases {
        let e = copy_in(&c, "copy t from stdin", &[data]).await.unwrap_err();
        assert_eq!(
            db_error(&e),
            (
                code.to_owned(),
                message.to_owned(),
                Some(context.to_owned())
            ),
            "{data:?}"
        );
    }
    // Nothing of the failed COPYs stayed, and the session goes on.
    assert_eq!(
        rows(&c, "select count(*) from t").await,
        vec![vec![Some("0".into())]]
    );
    // A failed COPY inside a block fails the block.
    c.batch_execute("begin").await.unwrap();
    copy_in(&c, "copy t from stdin", &["x\n"])
        .await
        .unwrap_err();
    let e = c.simple_query("select 1").await.unwrap_err();
    assert_eq!(db_error(&e).0, "25P02");
    c.batch_execute("rollback").await.unwrap();
}

#[tokio::test]
async fn copy_inside_a_block_commits_with_it_and_the_end_marker_stops_the_data() {
    let srv = server();
    let c = connect(&srv).await;
    c.batch_execute("create table t (a int primary key, b text)")
        .await
        .unwrap();
    c.batch_execute("begin").await.unwrap();
    let n = copy_in(&c, "copy t from stdin", &["1\ta\n2\tb\n\\.\n3\tignored\n"])
        .await
        .unwrap();
    assert_eq!(n, 2);
    // A duplicate key is found while storing: the CONTEXT names the line.
    let e = copy_in(&c, "copy t from stdin", &["5\tx\n1\ty\n"])
        .await
        .unwrap_err();
    let (code, message, context) = db_error(&e);
    assert_eq!(code, "23505");
    assert_eq!(
        message,
        "duplicate key value violates unique constraint \"t_pkey\""
    );
    assert_eq!(context.as_deref(), Some("COPY t, line 2"));
    c.batch_execute("rollback").await.unwrap();
    assert_eq!(
        rows(&c, "select count(*) from t").await,
        vec![vec![Some("0".into())]]
    );
    c.batch_execute("begin").await.unwrap();
    copy_in(&c, "copy t from stdin", &["7\tg\n"]).await.unwrap();
    c.batch_execute("commit").await.unwrap();
    assert_eq!(
        rows(&c, "select a, b from t").await,
        vec![vec![Some("7".into()), Some("g".into())]]
    );
}

#[tokio::test]
async fn copy_errors_before_data_are_postgres_errors() {
    let srv = server();
    let c = connect(&srv).await;
    c.batch_execute("create table t (a int)").await.unwrap();
    let e = c.simple_query("copy nope from stdin").await.unwrap_err();
    assert_eq!(db_error(&e).0, "42P01");
    let e = c.simple_query("copy t (zz) from stdin").await.unwrap_err();
    assert_eq!(
        db_error(&e).1,
        "column \"zz\" of relation \"t\" does not exist"
    );
    let e = c
        .simple_query("copy t from '/etc/passwd'")
        .await
        .unwrap_err();
    assert_eq!(db_error(&e).0, "42501");
}

#[tokio::test]
async fn simple_protocol_copy_ends_with_ready_for_query() {
    // psql-style: the whole COPY over the simple protocol, via a raw
    // socket, including CopyFail.
    use std::io::{Read, Write};
    let srv = server();
    let mut s = std::net::TcpStream::connect(srv.addr()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut startup = Vec::new();
    startup.extend_from_slice(&196608i32.to_be_bytes());
    startup.extend_from_slice(b"user\0postgres\0\0");
    let mut msg = ((startup.len() + 4) as i32).to_be_bytes().to_vec();
    msg.extend_from_slice(&startup);
    s.write_all(&msg).unwrap();
    let read_until_ready = |s: &mut std::net::TcpStream| -> Vec<u8> {
        let mut types = Vec::new();
        loop {
            let mut head = [0u8; 5];
            s.read_exact(&mut head).unwrap();
            let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
            let mut body = vec![0u8; len - 4];
            s.read_exact(&mut body).unwrap();
            types.push(head[0]);
            if head[0] == b'Z' || head[0] == b'G' {
                return types;
            }
        }
    };
    let frame = |t: u8, body: &[u8]| {
        let mut m = vec![t];
        m.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        m.extend_from_slice(body);
        m
    };
    read_until_ready(&mut s);
    s.write_all(&frame(b'Q', b"create table t (a int)\0"))
        .unwrap();
    read_until_ready(&mut s);
    s.write_all(&frame(b'Q', b"copy t from stdin\0")).unwrap();
    assert_eq!(read_until_ready(&mut s), vec![b'G']);
    s.write_all(&frame(b'd', b"1\n2\n")).unwrap();
    s.write_all(&frame(b'c', b"")).unwrap();
    assert_eq!(read_until_ready(&mut s), vec![b'C', b'Z']);
    s.write_all(&frame(b'Q', b"copy t from stdin\0")).unwrap();
    assert_eq!(read_until_ready(&mut s), vec![b'G']);
    s.write_all(&frame(b'd', b"3\n")).unwrap();
    s.write_all(&frame(b'f', b"client gave up\0")).unwrap();
    assert_eq!(read_until_ready(&mut s), vec![b'E', b'Z']);
    s.write_all(&frame(b'Q', b"copy t to stdout\0")).unwrap();
    assert_eq!(
        read_until_ready(&mut s),
        vec![b'H', b'd', b'd', b'c', b'C', b'Z']
    );
}

#[tokio::test]
async fn copy_rows_are_held_to_check_constraints() {
    let srv = server();
    let client = connect(&srv).await;
    client
        .batch_execute("CREATE TABLE cc (a int CHECK (a > 0), b text)")
        .await
        .unwrap();
    let e = copy_in(&client, "COPY cc FROM STDIN", &["1\tx\n-2\ty\n"])
        .await
        .unwrap_err();
    assert_eq!(
        db_error(&e),
        (
            "23514".to_owned(),
            "new row for relation \"cc\" violates check constraint \"cc_a_check\"".to_owned(),
            Some("COPY cc, line 2: \"-2\ty\"".to_owned())
        )
    );
    assert!(rows(&client, "SELECT * FROM cc").await.is_empty());
    assert_eq!(
        copy_in(&client, "COPY cc FROM STDIN", &["1\tx\n2\ty\n"])
            .await
            .unwrap(),
        2
    );
}
