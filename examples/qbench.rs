//! A quick executor measurement: loads TPC-H lineitem (bench/tpch/gen.py
//! output) into a data directory once with COPY, then times Q6- and
//! Q1-shaped queries. Run in release:
//!
//! ```text
//! python3 bench/tpch/gen.py 0.03 /tmp/tpch
//! cargo run --release --example qbench -- /tmp/tpch/lineitem.tbl /tmp/qbench-db [runs]
//! ```

use std::time::Instant;

use arbordb::db::Database;

const Q6: &str = "select sum(l_extendedprice * l_discount) as revenue from lineitem \
    where l_shipdate >= date '1994-01-01' and l_shipdate < date '1994-01-01' + interval '1 year' \
    and l_discount between 0.06 - 0.01 and 0.06 + 0.01 and l_quantity < 24";

const Q1: &str = "select l_returnflag, l_linestatus, sum(l_quantity) as sum_qty, \
    sum(l_extendedprice) as sum_base_price, sum(l_extendedprice * (1 - l_discount)) as sum_disc_price, \
    sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge, avg(l_quantity) as avg_qty, \
    avg(l_extendedprice) as avg_price, avg(l_discount) as avg_disc, count(*) as count_order \
    from lineitem where l_shipdate <= date '1998-12-01' - interval '90 days' \
    group by l_returnflag, l_linestatus order by l_returnflag, l_linestatus";

const TOPN: &str = "select l_orderkey, l_extendedprice from lineitem \
    order by l_extendedprice desc, l_orderkey limit 10";

const SCHEMA: &str = "CREATE TABLE lineitem (l_orderkey integer NOT NULL, l_partkey integer NOT NULL, \
    l_suppkey integer NOT NULL, l_linenumber integer NOT NULL, l_quantity decimal(15,2) NOT NULL, \
    l_extendedprice decimal(15,2) NOT NULL, l_discount decimal(15,2) NOT NULL, l_tax decimal(15,2) NOT NULL, \
    l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL, l_shipdate date NOT NULL, \
    l_commitdate date NOT NULL, l_receiptdate date NOT NULL, l_shipinstruct char(25) NOT NULL, \
    l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL, PRIMARY KEY (l_orderkey, l_linenumber))";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let tbl = args
        .get(1)
        .ok_or("usage: qbench LINEITEM.tbl DATA_DIR [runs] [queries]")?;
    let dir = args
        .get(2)
        .ok_or("usage: qbench LINEITEM.tbl DATA_DIR [runs] [queries]")?;
    let runs: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let which = args.get(4).cloned().unwrap_or_else(|| "q6,q1,topn".into());
    let fresh = !std::path::Path::new(dir).exists();
    let db = Database::open(dir)?;
    let mut s = db.session();
    if fresh {
        s.execute(SCHEMA)?;
        let data = std::fs::read(tbl)?;
        let start = Instant::now();
        s.execute("COPY lineitem FROM STDIN")?;
        for chunk in data.chunks(64 * 1024) {
            s.copy_data(chunk)?;
        }
        let r = s.copy_done()?;
        println!("load: {} in {:.2} s", r.tag, start.elapsed().as_secs_f64());
        s.execute("ANALYZE lineitem")?;
        db.flush()?;
    }
    for (name, q) in [("q6", Q6), ("q1", Q1), ("topn", TOPN)] {
        if !which.split(',').any(|w| w == name) {
            continue;
        }
        let mut times = Vec::new();
        let mut rows = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            rows = s.query(q)?;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{name}: median {:.1} ms (runs {:?}), {} rows, first {:?}",
            times[times.len() / 2],
            times.iter().map(|t| t.round()).collect::<Vec<_>>(),
            rows.len(),
            rows.first()
        );
    }
    Ok(())
}
