"""The shared client scenario (see tests/clients.rs) for Python drivers.

    python3 scenario.py psycopg|psycopg2|asyncpg

Connects with PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE (a SCRAM password on
arbordb), runs every step of the scenario and asserts each one. Prints
"ok <step>" per step and "SCENARIO PASSED <n> steps" at the end; exits 77 with
a "skip:" line when the driver is not installed, 1 on the first failure.
"""

import asyncio
import datetime as dt
import decimal
import os
import sys
import threading
import time
import traceback
import uuid

DRIVER = sys.argv[1] if len(sys.argv) > 1 else "psycopg"
TABLE = "scenario_" + DRIVER
BIG = "scenario_big_" + DRIVER
BIG_ROWS = 100_000

COLUMNS = [
    ("b", "boolean", True),
    ("i2", "smallint", -12345),
    ("i4", "integer", -2147483648),
    ("i8", "bigint", 9223372036854775807),
    ("f4", "real", 1.5),
    ("f8", "double precision", 3.141592653589793),
    ("n", "numeric(20,5)", decimal.Decimal("-12345.67890")),
    ("t", "text", "héllo, wörld ✓"),
    ("vc", "varchar(20)", "varchar"),
    ("c", "char(5)", "ab"),
    ("by", "bytea", b"\x00\x01\xffabc"),
    ("d", "date", dt.date(2024, 2, 29)),
    ("tm", "time", dt.time(13, 14, 15, 500000)),
    ("ts", "timestamp", dt.datetime(2024, 1, 2, 3, 4, 5, 123456)),
    ("tz", "timestamptz", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)),
    ("iv", "interval", dt.timedelta(days=3, hours=4, seconds=5)),
    ("u", "uuid", uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
    ("j", "json", {"a": 1, "b": [True, None]}),
    ("jb", "jsonb", {"k": "v", "n": [1, 2]}),
]
NAMES = [c[0] for c in COLUMNS]
CREATE = "CREATE TABLE %s (id integer PRIMARY KEY, %s)" % (
    TABLE,
    ", ".join("%s %s" % (n, t) for n, t, _ in COLUMNS),
)

steps = []


def step(name):
    def wrap(f):
        steps.append((name, f))
        return f

    return wrap


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def eq(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def expected(name, value):
    """What a column reads back as, from the value written."""
    if name == "c":
        return value.ljust(5)
    if name == "f4":
        return float(value)
    return value


def normalise(name, got):
    if isinstance(got, memoryview):
        got = bytes(got)
    if name in ("j", "jb") and isinstance(got, str):
        import json

        got = json.loads(got)
    if name == "tz" and isinstance(got, dt.datetime):
        got = got.astimezone(dt.timezone.utc)
    if name == "u" and isinstance(got, str):
        got = uuid.UUID(got)
    return got


def check_row(row, what):
    check(row is not None, what + ": no row")
    eq(row[0], 1, what + " id")
    for (name, _, value), got in zip(COLUMNS, row[1:]):
        eq(normalise(name, got), expected(name, value), "%s column %s" % (what, name))


def sqlstate_of(exc):
    for attr in ("sqlstate", "pgcode"):
        v = getattr(exc, attr, None)
        if v:
            return v
    diag = getattr(exc, "diag", None)
    return getattr(diag, "sqlstate", None)


# ---------------------------------------------------------------- psycopg 3


def run_psycopg():
    try:
        import psycopg
        from psycopg.types.json import Json, Jsonb
    except ImportError as e:
        skip("psycopg (3) is not installed: %s" % e)

    conn = psycopg.connect(autocommit=True)
    ctx = {}

    def values():
        out = []
        for name, _, v in COLUMNS:
            if name == "j":
                v = Json(v)
            elif name == "jb":
                v = Jsonb(v)
            out.append(v)
        return out

    @step("connect with a SCRAM password")
    def _():
        eq(conn.execute("SELECT current_user").fetchone()[0], os.environ["PGUSER"], "current_user")
        eq(conn.info.transaction_status, psycopg.pq.TransactionStatus.IDLE, "status")

    @step("create a table with every supported type")
    def _():
        conn.execute("DROP TABLE IF EXISTS " + TABLE)
        conn.execute(CREATE)

    @step("parameterised insert")
    def _():
        cur = conn.execute(
            "INSERT INTO %s (id, %s) VALUES (%s)" % (TABLE, ", ".join(NAMES), ", ".join(["%s"] * (len(NAMES) + 1))),
            [1] + values(),
        )
        eq(cur.rowcount, 1, "rowcount")

    @step("parameterised insert of NULLs")
    def _():
        cur = conn.execute(
            "INSERT INTO %s (id, %s) VALUES (%s)" % (TABLE, ", ".join(NAMES), ", ".join(["%s"] * (len(NAMES) + 1))),
            [2] + [None] * len(NAMES),
        )
        eq(cur.rowcount, 1, "rowcount")

    @step("select in text format")
    def _():
        row = conn.execute("SELECT id, %s FROM %s WHERE id = %%s" % (", ".join(NAMES), TABLE), [1]).fetchone()
        check_row(row, "text")
        nulls = conn.execute("SELECT %s FROM %s WHERE id = %%s" % (", ".join(NAMES), TABLE), [2]).fetchone()
        eq(list(nulls), [None] * len(NAMES), "NULL row")

    @step("select in binary format")
    def _():
        cur = conn.cursor(binary=True)
        row = cur.execute("SELECT id, %s FROM %s WHERE id = %%s" % (", ".join(NAMES), TABLE), [1]).fetchone()
        check_row(row, "binary")
        nulls = cur.execute("SELECT %s FROM %s WHERE id = %%b" % (", ".join(NAMES), TABLE), [2]).fetchone()
        eq(list(nulls), [None] * len(NAMES), "NULL row")

    @step("update")
    def _():
        cur = conn.execute("UPDATE %s SET t = %%s, i4 = i4 + 1 WHERE id = %%s" % TABLE, ["updated", 1])
        eq(cur.rowcount, 1, "rowcount")
        eq(conn.execute("SELECT t, i4 FROM %s WHERE id = 1" % TABLE).fetchone(), ("updated", -2147483647), "row")

    @step("delete")
    def _():
        cur = conn.execute("DELETE FROM %s WHERE id = %%s" % TABLE, [2])
        eq(cur.rowcount, 1, "rowcount")
        eq(conn.execute("SELECT count(*) FROM %s" % TABLE).fetchone()[0], 1, "count")

    @step("a rolled-back transaction")
    def _():
        conn.autocommit = False
        conn.execute("INSERT INTO %s (id, t) VALUES (%%s, %%s)" % TABLE, [10, "rolled back"])
        eq(conn.info.transaction_status, psycopg.pq.TransactionStatus.INTRANS, "in transaction")
        conn.rollback()
        conn.autocommit = True
        eq(conn.execute("SELECT count(*) FROM %s WHERE id = 10" % TABLE).fetchone()[0], 0, "row gone")

    @step("a committed transaction")
    def _():
        with conn.transaction():
            conn.execute("INSERT INTO %s (id, t) VALUES (%%s, %%s)" % TABLE, [11, "committed"])
        eq(conn.execute("SELECT t FROM %s WHERE id = 11" % TABLE).fetchone()[0], "committed", "row kept")

    @step("an error inside a transaction (25P02 until ROLLBACK)")
    def _():
        conn.autocommit = False
        try:
            conn.execute("SELECT 1 / (id - id) FROM %s" % TABLE)
            raise AssertionError("division by zero succeeded")
        except psycopg.errors.DivisionByZero as e:
            eq(e.sqlstate, "22012", "first error")
        try:
            conn.execute("SELECT 1")
            raise AssertionError("statement ran in a failed transaction")
        except psycopg.errors.InFailedSqlTransaction as e:
            eq(e.sqlstate, "25P02", "second error")
        eq(conn.info.transaction_status, psycopg.pq.TransactionStatus.INERROR, "status")
        conn.rollback()
        conn.autocommit = True
        eq(conn.execute("SELECT 1").fetchone()[0], 1, "after rollback")

    @step("a unique violation (23505)")
    def _():
        try:
            conn.execute("INSERT INTO %s (id) VALUES (%%s)" % TABLE, [1])
            raise AssertionError("duplicate key accepted")
        except psycopg.errors.UniqueViolation as e:
            eq(e.sqlstate, "23505", "sqlstate")

    @step("a prepared statement reused")
    def _():
        q = "SELECT id, t FROM %s WHERE id = %%s" % TABLE
        for i in range(8):
            eq(conn.execute(q, [11], prepare=True).fetchone(), (11, "committed"), "run %d" % i)
            eq(conn.execute(q, [12345], prepare=True).fetchone(), None, "miss %d" % i)

    @step("100k rows fetched")
    def _():
        make_big(lambda sql: conn.execute(sql))
        with conn.cursor() as cur:
            cur.execute("SELECT n, md5(n::text) FROM %s ORDER BY n" % BIG)
            count = total = 0
            for n, h in cur:
                count += 1
                total += n
                check(len(h) == 32, "md5 width")
        eq((count, total), (BIG_ROWS, BIG_ROWS * (BIG_ROWS - 1) // 2), "rows")
        with conn.cursor(binary=True) as cur:
            cur.execute("SELECT n FROM %s WHERE n %% 1000 = 0" % BIG)
            eq(len(cur.fetchall()), BIG_ROWS // 1000, "filtered rows")

    @step("a cancelled long query")
    def _():
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        start = time.time()
        try:
            conn.execute("SELECT pg_sleep(30)")
            raise AssertionError("pg_sleep(30) was not cancelled")
        except psycopg.errors.QueryCanceled as e:
            eq(e.sqlstate, "57014", "sqlstate")
        check(time.time() - start < 10, "cancel took too long")
        eq(conn.execute("SELECT 2").fetchone()[0], 2, "usable after cancel")

    run_steps()
    conn.execute("DROP TABLE %s" % TABLE)
    conn.execute("DROP TABLE %s" % BIG)
    conn.close()


def make_big(execute):
    """BIG gets BIG_ROWS rows 0..BIG_ROWS-1, built by the server."""
    execute("DROP TABLE IF EXISTS %s" % BIG)
    execute("DROP TABLE IF EXISTS %s_digits" % BIG)
    execute("CREATE TABLE %s_digits (d integer)" % BIG)
    execute("INSERT INTO %s_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)" % BIG)
    execute("CREATE TABLE %s (n integer PRIMARY KEY)" % BIG)
    execute(
        "INSERT INTO %s SELECT a.d + 10 * b.d + 100 * c.d + 1000 * d.d + 10000 * e.d "
        "FROM {0} a, {0} b, {0} c, {0} d, {0} e".format(BIG + "_digits") % BIG
    )
    execute("DROP TABLE %s_digits" % BIG)


# ---------------------------------------------------------------- psycopg2


def run_psycopg2():
    try:
        import psycopg2
        import psycopg2.errorcodes
        import psycopg2.extras
        import psycopg2.extensions
    except ImportError as e:
        skip("psycopg2 is not installed: %s" % e)

    conn = psycopg2.connect("")
    conn.autocommit = True
    psycopg2.extras.register_uuid()
    psycopg2.extras.register_default_jsonb(conn)
    psycopg2.extras.register_default_json(conn)

    def one(sql, params=None):
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    def values():
        out = []
        for name, _, v in COLUMNS:
            if name in ("j", "jb"):
                v = psycopg2.extras.Json(v)
            elif name == "by":
                v = psycopg2.Binary(v)
            out.append(v)
        return out

    insert = "INSERT INTO %s (id, %s) VALUES (%s)" % (TABLE, ", ".join(NAMES), ", ".join(["%s"] * (len(NAMES) + 1)))

    @step("connect with a SCRAM password")
    def _():
        eq(one("SELECT current_user")[0], os.environ["PGUSER"], "current_user")
        check(conn.server_version >= 150000, "server_version %r" % conn.server_version)

    @step("create a table with every supported type")
    def _():
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS " + TABLE)
            cur.execute(CREATE)

    @step("parameterised insert")
    def _():
        with conn.cursor() as cur:
            cur.execute(insert, [1] + values())
            eq(cur.rowcount, 1, "rowcount")

    @step("parameterised insert of NULLs")
    def _():
        with conn.cursor() as cur:
            cur.execute(insert, [2] + [None] * len(NAMES))
            eq(cur.rowcount, 1, "rowcount")

    @step("select in text format")
    def _():
        check_row(one("SELECT id, %s FROM %s WHERE id = %%s" % (", ".join(NAMES), TABLE), [1]), "text")
        eq(list(one("SELECT %s FROM %s WHERE id = %%s" % (", ".join(NAMES), TABLE), [2])), [None] * len(NAMES), "NULL row")

    @step("select in binary format (psycopg2 has text only: binary cursor output via COPY)")
    def _():
        import io

        buf = io.BytesIO()
        with conn.cursor() as cur:
            cur.copy_expert("COPY (SELECT id, t FROM %s WHERE id = 1) TO STDOUT" % TABLE, buf)
        eq(buf.getvalue().decode(), "1\t%s\n" % COLUMNS[7][2], "COPY TO STDOUT")

    @step("update")
    def _():
        with conn.cursor() as cur:
            cur.execute("UPDATE %s SET t = %%s, i4 = i4 + 1 WHERE id = %%s" % TABLE, ["updated", 1])
            eq(cur.rowcount, 1, "rowcount")
        eq(one("SELECT t, i4 FROM %s WHERE id = 1" % TABLE), ("updated", -2147483647), "row")

    @step("delete")
    def _():
        with conn.cursor() as cur:
            cur.execute("DELETE FROM %s WHERE id = %%s" % TABLE, [2])
            eq(cur.rowcount, 1, "rowcount")
        eq(one("SELECT count(*) FROM %s" % TABLE)[0], 1, "count")

    @step("a rolled-back transaction")
    def _():
        conn.autocommit = False
        with conn.cursor() as cur:
            cur.execute("INSERT INTO %s (id, t) VALUES (%%s, %%s)" % TABLE, [10, "rolled back"])
        eq(conn.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_INTRANS, "status")
        conn.rollback()
        conn.autocommit = True
        eq(one("SELECT count(*) FROM %s WHERE id = 10" % TABLE)[0], 0, "row gone")

    @step("a committed transaction")
    def _():
        conn.autocommit = False
        with conn.cursor() as cur:
            cur.execute("INSERT INTO %s (id, t) VALUES (%%s, %%s)" % TABLE, [11, "committed"])
        conn.commit()
        conn.autocommit = True
        eq(one("SELECT t FROM %s WHERE id = 11" % TABLE)[0], "committed", "row kept")

    @step("an error inside a transaction (25P02 until ROLLBACK)")
    def _():
        conn.autocommit = False
        try:
            one("SELECT 1 / (id - id) FROM %s" % TABLE)
            raise AssertionError("division by zero succeeded")
        except psycopg2.Error as e:
            eq(e.pgcode, "22012", "first error")
        try:
            one("SELECT 1")
            raise AssertionError("statement ran in a failed transaction")
        except psycopg2.Error as e:
            eq(e.pgcode, "25P02", "second error")
        eq(conn.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_INERROR, "status")
        conn.rollback()
        conn.autocommit = True
        eq(one("SELECT 1")[0], 1, "after rollback")

    @step("a unique violation (23505)")
    def _():
        try:
            one("INSERT INTO %s (id) VALUES (%%s) RETURNING id" % TABLE, [1])
            raise AssertionError("duplicate key accepted")
        except psycopg2.Error as e:
            eq(e.pgcode, "23505", "sqlstate")

    @step("a prepared statement reused (PREPARE / EXECUTE)")
    def _():
        with conn.cursor() as cur:
            cur.execute("PREPARE scenario_q (integer) AS SELECT id, t FROM %s WHERE id = $1" % TABLE)
            for i in range(8):
                cur.execute("EXECUTE scenario_q (%s)", [11])
                eq(cur.fetchone(), (11, "committed"), "run %d" % i)
                cur.execute("EXECUTE scenario_q (%s)", [12345])
                eq(cur.fetchone(), None, "miss %d" % i)
            cur.execute("DEALLOCATE scenario_q")

    @step("100k rows fetched")
    def _():
        with conn.cursor() as cur:
            make_big(cur.execute)
            cur.execute("SELECT n, md5(n::text) FROM %s ORDER BY n" % BIG)
            rows = cur.fetchall()
        eq(len(rows), BIG_ROWS, "rows")
        eq(sum(r[0] for r in rows), BIG_ROWS * (BIG_ROWS - 1) // 2, "sum")
        check(all(len(r[1]) == 32 for r in rows), "md5 width")

    @step("a cancelled long query")
    def _():
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        start = time.time()
        try:
            one("SELECT pg_sleep(30)")
            raise AssertionError("pg_sleep(30) was not cancelled")
        except psycopg2.Error as e:
            eq(e.pgcode, "57014", "sqlstate")
        check(time.time() - start < 10, "cancel took too long")
        eq(one("SELECT 2")[0], 2, "usable after cancel")

    run_steps()
    with conn.cursor() as cur:
        cur.execute("DROP TABLE %s" % TABLE)
        cur.execute("DROP TABLE %s" % BIG)
    conn.close()


# ---------------------------------------------------------------- asyncpg


def run_asyncpg():
    try:
        import asyncpg
    except ImportError as e:
        skip("asyncpg is not installed: %s" % e)
    asyncio.run(asyncpg_scenario(asyncpg))


async def asyncpg_scenario(asyncpg):
    import json

    conn = await asyncpg.connect()
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    insert = "INSERT INTO %s (id, %s) VALUES (%s)" % (
        TABLE,
        ", ".join(NAMES),
        ", ".join("$%d" % (i + 1) for i in range(len(NAMES) + 1)),
    )
    asteps = []

    def astep(name):
        def wrap(f):
            asteps.append((name, f))
            return f

        return wrap

    @astep("connect with a SCRAM password")
    async def _():
        eq(await conn.fetchval("SELECT current_user"), os.environ["PGUSER"], "current_user")

    @astep("create a table with every supported type")
    async def _():
        await conn.execute("DROP TABLE IF EXISTS " + TABLE)
        await conn.execute(CREATE)

    @astep("parameterised insert")
    async def _():
        eq(await conn.execute(insert, 1, *[v for _, _, v in COLUMNS]), "INSERT 0 1", "tag")

    @astep("parameterised insert of NULLs")
    async def _():
        eq(await conn.execute(insert, 2, *[None] * len(NAMES)), "INSERT 0 1", "tag")

    @astep("select in binary format")
    async def _():
        row = await conn.fetchrow("SELECT id, %s FROM %s WHERE id = $1" % (", ".join(NAMES), TABLE), 1)
        check_row(list(row), "binary")
        nulls = await conn.fetchrow("SELECT %s FROM %s WHERE id = $1" % (", ".join(NAMES), TABLE), 2)
        eq(list(nulls), [None] * len(NAMES), "NULL row")

    @astep("select in text format (simple protocol)")
    async def _():
        out = await conn.execute("SELECT id, t FROM %s WHERE id = 1" % TABLE)
        eq(out, "SELECT 1", "tag")
        eq(await conn.fetchval("SELECT t::text FROM %s WHERE id = 1" % TABLE), COLUMNS[7][2], "text")

    @astep("update")
    async def _():
        eq(await conn.execute("UPDATE %s SET t = $1, i4 = i4 + 1 WHERE id = $2" % TABLE, "updated", 1), "UPDATE 1", "tag")
        row = await conn.fetchrow("SELECT t, i4 FROM %s WHERE id = 1" % TABLE)
        eq(tuple(row), ("updated", -2147483647), "row")

    @astep("delete")
    async def _():
        eq(await conn.execute("DELETE FROM %s WHERE id = $1" % TABLE, 2), "DELETE 1", "tag")
        eq(await conn.fetchval("SELECT count(*) FROM %s" % TABLE), 1, "count")

    @astep("a rolled-back transaction")
    async def _():
        tr = conn.transaction()
        await tr.start()
        await conn.execute("INSERT INTO %s (id, t) VALUES ($1, $2)" % TABLE, 10, "rolled back")
        check(conn.is_in_transaction(), "in transaction")
        await tr.rollback()
        eq(await conn.fetchval("SELECT count(*) FROM %s WHERE id = 10" % TABLE), 0, "row gone")

    @astep("a committed transaction")
    async def _():
        async with conn.transaction():
            await conn.execute("INSERT INTO %s (id, t) VALUES ($1, $2)" % TABLE, 11, "committed")
        eq(await conn.fetchval("SELECT t FROM %s WHERE id = 11" % TABLE), "committed", "row kept")

    @astep("an error inside a transaction (25P02 until ROLLBACK)")
    async def _():
        tr = conn.transaction()
        await tr.start()
        try:
            await conn.fetch("SELECT 1 / (id - id) FROM %s" % TABLE)
            raise AssertionError("division by zero succeeded")
        except asyncpg.PostgresError as e:
            eq(e.sqlstate, "22012", "first error")
        try:
            await conn.fetchval("SELECT 1")
            raise AssertionError("statement ran in a failed transaction")
        except asyncpg.PostgresError as e:
            eq(e.sqlstate, "25P02", "second error")
        await tr.rollback()
        eq(await conn.fetchval("SELECT 1"), 1, "after rollback")

    @astep("a unique violation (23505)")
    async def _():
        try:
            await conn.execute("INSERT INTO %s (id) VALUES ($1)" % TABLE, 1)
            raise AssertionError("duplicate key accepted")
        except asyncpg.UniqueViolationError as e:
            eq(e.sqlstate, "23505", "sqlstate")

    @astep("a prepared statement reused")
    async def _():
        stmt = await conn.prepare("SELECT id, t FROM %s WHERE id = $1" % TABLE)
        eq([p.name for p in stmt.get_parameters()], ["int4"], "parameter types")
        eq([a.name for a in stmt.get_attributes()], ["id", "t"], "columns")
        for i in range(8):
            eq(tuple(await stmt.fetchrow(11)), (11, "committed"), "run %d" % i)
            eq(await stmt.fetchrow(12345), None, "miss %d" % i)

    @astep("100k rows fetched (a cursor in batches: portals with row limits)")
    async def _():
        async def ex(sql):
            await conn.execute(sql)

        await make_big_async(ex)
        rows = await conn.fetch("SELECT n, md5(n::text) FROM %s ORDER BY n" % BIG)
        eq(len(rows), BIG_ROWS, "rows")
        eq(sum(r[0] for r in rows), BIG_ROWS * (BIG_ROWS - 1) // 2, "sum")
        async with conn.transaction():
            count = total = 0
            async for r in conn.cursor("SELECT n FROM %s ORDER BY n" % BIG, prefetch=1000):
                count += 1
                total += r[0]
        eq((count, total), (BIG_ROWS, BIG_ROWS * (BIG_ROWS - 1) // 2), "cursor rows")

    @astep("a cancelled long query")
    async def _():
        start = time.time()
        try:
            await conn.execute("SELECT pg_sleep(30)", timeout=0.5)
            raise AssertionError("pg_sleep(30) was not cancelled")
        except asyncio.TimeoutError:
            pass
        check(time.time() - start < 10, "cancel took too long")
        eq(await conn.fetchval("SELECT 2"), 2, "usable after cancel")
        # asyncpg cancels on timeout; an explicit one too:
        task = asyncio.ensure_future(conn.execute("SELECT pg_sleep(30)"))
        await asyncio.sleep(0.5)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        eq(await conn.fetchval("SELECT 3"), 3, "usable after task cancel")

    n = 0
    for name, f in asteps:
        try:
            await f()
        except Exception:
            fail(name)
        n += 1
        print("ok", name, flush=True)
    await conn.execute("DROP TABLE %s" % TABLE)
    await conn.execute("DROP TABLE %s" % BIG)
    await conn.close()
    print("SCENARIO PASSED %d steps" % n)


async def make_big_async(execute):
    sqls = []
    make_big(sqls.append)
    for s in sqls:
        await execute(s)


# ---------------------------------------------------------------- driver


def skip(why):
    print("skip:", why)
    sys.exit(77)


def fail(name):
    print("FAILED step:", name, flush=True)
    traceback.print_exc()
    sys.exit(1)


def run_steps():
    for name, f in steps:
        try:
            f()
        except Exception:
            fail(name)
        print("ok", name, flush=True)
    print("SCENARIO PASSED %d steps" % len(steps))


if __name__ == "__main__":
    {"psycopg": run_psycopg, "psycopg2": run_psycopg2, "asyncpg": run_asyncpg}[DRIVER]()
