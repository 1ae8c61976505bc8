// The shared client scenario (see tests/clients.rs) over pgjdbc.
//
//   javac -cp postgresql.jar Scenario.java && java -cp postgresql.jar:. Scenario
//
// Connects with PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE. Prints
// "ok <step>" per step and "SCENARIO PASSED <n> steps"; exits 1 on failure.

import java.math.BigDecimal;
import java.sql.*;
import java.time.*;
import java.util.*;

public class Scenario {
    static final String TABLE = "scenario_jdbc";
    static final String BIG = "scenario_big_jdbc";
    static final int BIG_ROWS = 100_000;

    interface Step { void run() throws Exception; }

    static final List<Map.Entry<String, Step>> steps = new ArrayList<>();
    static void step(String name, Step s) { steps.add(Map.entry(name, s)); }

    static void check(boolean cond, String what) {
        if (!cond) throw new AssertionError(what);
    }
    static void eq(Object got, Object want, String what) {
        if (!Objects.deepEquals(got, want)) throw new AssertionError(what + ": got " + got + ", want " + want);
    }

    static Connection connect(String extra) throws SQLException {
        String url = "jdbc:postgresql://" + env("PGHOST", "127.0.0.1") + ":" + env("PGPORT", "5432") + "/"
                + env("PGDATABASE", "postgres") + "?sslmode=disable" + extra;
        Properties p = new Properties();
        p.setProperty("user", env("PGUSER", "postgres"));
        if (System.getenv("PGPASSWORD") != null) p.setProperty("password", System.getenv("PGPASSWORD"));
        return DriverManager.getConnection(url, p);
    }
    static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? dflt : v;
    }

    static String sqlstate(Step s) {
        try {
            s.run();
        } catch (SQLException e) {
            return e.getSQLState();
        } catch (Exception e) {
            return e.toString();
        }
        return "no error";
    }

    static final String COLUMNS = "b boolean, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision, "
            + "n numeric(20,5), t text, vc varchar(20), c char(5), by bytea, d date, tm time, ts timestamp, "
            + "tz timestamptz, iv interval, u uuid, j json, jb jsonb";
    static final String NAMES = "b, i2, i4, i8, f4, f8, n, t, vc, c, by, d, tm, ts, tz, iv, u, j, jb";
    static final UUID U = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    static final byte[] BYTES = {0, 1, (byte) 0xff, 'a', 'b', 'c'};

    static void bindAll(PreparedStatement ps) throws SQLException {
        ps.setInt(1, 1);
        ps.setBoolean(2, true);
        ps.setShort(3, (short) -12345);
        ps.setInt(4, Integer.MIN_VALUE);
        ps.setLong(5, Long.MAX_VALUE);
        ps.setFloat(6, 1.5f);
        ps.setDouble(7, Math.PI);
        ps.setBigDecimal(8, new BigDecimal("-12345.67890"));
        ps.setString(9, "héllo, wörld ✓");
        ps.setString(10, "varchar");
        ps.setString(11, "ab");
        ps.setBytes(12, BYTES);
        ps.setObject(13, LocalDate.of(2024, 2, 29));
        ps.setObject(14, LocalTime.of(13, 14, 15, 500_000_000));
        ps.setObject(15, LocalDateTime.of(2024, 1, 2, 3, 4, 5, 123_456_000));
        ps.setObject(16, OffsetDateTime.of(2024, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC));
        ps.setObject(17, "3 days 04:00:05", Types.OTHER);
        ps.setObject(18, U);
        ps.setObject(19, "{\"a\": 1}", Types.OTHER);
        ps.setObject(20, "{\"k\": \"v\"}", Types.OTHER);
    }

    static void checkRow(ResultSet rs, String what) throws SQLException {
        check(rs.next(), what + ": no row");
        eq(rs.getInt("id"), 1, what + " id");
        eq(rs.getBoolean("b"), true, what + " b");
        eq(rs.getShort("i2"), (short) -12345, what + " i2");
        eq(rs.getInt("i4"), Integer.MIN_VALUE, what + " i4");
        eq(rs.getLong("i8"), Long.MAX_VALUE, what + " i8");
        eq(rs.getFloat("f4"), 1.5f, what + " f4");
        eq(rs.getDouble("f8"), Math.PI, what + " f8");
        eq(rs.getBigDecimal("n"), new BigDecimal("-12345.67890"), what + " n");
        eq(rs.getString("t"), "héllo, wörld ✓", what + " t");
        eq(rs.getString("vc"), "varchar", what + " vc");
        eq(rs.getString("c"), "ab   ", what + " c");
        eq(rs.getBytes("by"), BYTES, what + " by");
        eq(rs.getObject("d", LocalDate.class), LocalDate.of(2024, 2, 29), what + " d");
        eq(rs.getObject("tm", LocalTime.class), LocalTime.of(13, 14, 15, 500_000_000), what + " tm");
        eq(rs.getObject("ts", LocalDateTime.class), LocalDateTime.of(2024, 1, 2, 3, 4, 5, 123_456_000), what + " ts");
        eq(rs.getObject("tz", OffsetDateTime.class).toInstant(), Instant.parse("2024-01-02T03:04:05Z"), what + " tz");
        eq(rs.getString("iv"), "3 days 04:00:05", what + " iv");
        eq(rs.getObject("u"), U, what + " u");
        eq(rs.getString("j"), "{\"a\": 1}", what + " j");
        eq(rs.getString("jb"), "{\"k\": \"v\"}", what + " jb");
        check(!rs.next(), what + ": one row");
    }

    static int count(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getInt(1);
        }
    }

    public static void main(String[] args) throws Exception {
        Connection conn = connect("");
        String select = "SELECT id, " + NAMES + " FROM " + TABLE + " WHERE id = ?";

        step("connect with a SCRAM password", () -> {
            try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT current_user")) {
                rs.next();
                eq(rs.getString(1), env("PGUSER", "postgres"), "current_user");
            }
            check(conn.getMetaData().getDatabaseMajorVersion() >= 15, "server version");
        });
        step("create a table with every supported type", () -> {
            try (Statement s = conn.createStatement()) {
                s.execute("DROP TABLE IF EXISTS " + TABLE);
                s.execute("CREATE TABLE " + TABLE + " (id integer PRIMARY KEY, " + COLUMNS + ")");
            }
        });
        step("parameterised insert", () -> {
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO " + TABLE + " (id, " + NAMES
                    + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                bindAll(ps);
                eq(ps.executeUpdate(), 1, "rows");
            }
        });
        step("parameterised insert of NULLs", () -> {
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO " + TABLE + " (id, " + NAMES
                    + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                ps.setInt(1, 2);
                int[] types = {Types.BOOLEAN, Types.SMALLINT, Types.INTEGER, Types.BIGINT, Types.REAL, Types.DOUBLE,
                        Types.NUMERIC, Types.VARCHAR, Types.VARCHAR, Types.CHAR, Types.BINARY, Types.DATE, Types.TIME,
                        Types.TIMESTAMP, Types.TIMESTAMP_WITH_TIMEZONE, Types.OTHER, Types.OTHER, Types.OTHER, Types.OTHER};
                for (int i = 0; i < types.length; i++) ps.setNull(i + 2, types[i]);
                eq(ps.executeUpdate(), 1, "rows");
            }
        });
        step("select in text format", () -> {
            try (PreparedStatement ps = conn.prepareStatement(select)) {
                ps.setInt(1, 1);
                checkRow(ps.executeQuery(), "text");
                ps.setInt(1, 2);
                ResultSet rs = ps.executeQuery();
                check(rs.next(), "NULL row");
                for (int i = 2; i <= 20; i++) check(rs.getObject(i) == null, "NULL column " + i);
            }
        });
        step("select in binary format (prepareThreshold=-1: server-prepared, binary from the start)", () -> {
            try (Connection bc = connect("&prepareThreshold=-1");
                 PreparedStatement ps = bc.prepareStatement(select)) {
                for (int i = 0; i < 3; i++) {
                    ps.setInt(1, 1);
                    checkRow(ps.executeQuery(), "binary run " + i);
                }
                ps.setInt(1, 2);
                ResultSet rs = ps.executeQuery();
                check(rs.next(), "NULL row");
                for (int i = 2; i <= 20; i++) check(rs.getObject(i) == null, "NULL column " + i);
            }
        });
        step("update", () -> {
            try (PreparedStatement ps = conn.prepareStatement("UPDATE " + TABLE + " SET t = ?, i4 = i4 + 1 WHERE id = ?")) {
                ps.setString(1, "updated");
                ps.setInt(2, 1);
                eq(ps.executeUpdate(), 1, "rows");
            }
            try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT t, i4 FROM " + TABLE + " WHERE id = 1")) {
                check(rs.next(), "row");
                eq(rs.getString(1), "updated", "t");
                eq(rs.getInt(2), Integer.MIN_VALUE + 1, "i4");
            }
        });
        step("delete", () -> {
            try (PreparedStatement ps = conn.prepareStatement("DELETE FROM " + TABLE + " WHERE id = ?")) {
                ps.setInt(1, 2);
                eq(ps.executeUpdate(), 1, "rows");
            }
            eq(count(conn, "SELECT count(*) FROM " + TABLE), 1, "count");
        });
        step("a rolled-back transaction", () -> {
            conn.setAutoCommit(false);
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO " + TABLE + " (id, t) VALUES (?, ?)")) {
                ps.setInt(1, 10);
                ps.setString(2, "rolled back");
                ps.executeUpdate();
            }
            conn.rollback();
            conn.setAutoCommit(true);
            eq(count(conn, "SELECT count(*) FROM " + TABLE + " WHERE id = 10"), 0, "row gone");
        });
        step("a committed transaction", () -> {
            conn.setAutoCommit(false);
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO " + TABLE + " (id, t) VALUES (?, ?)")) {
                ps.setInt(1, 11);
                ps.setString(2, "committed");
                ps.executeUpdate();
            }
            conn.commit();
            conn.setAutoCommit(true);
            eq(count(conn, "SELECT count(*) FROM " + TABLE + " WHERE id = 11"), 1, "row kept");
        });
        step("an error inside a transaction (25P02 until ROLLBACK)", () -> {
            conn.setAutoCommit(false);
            eq(sqlstate(() -> count(conn, "SELECT 1 / (id - id) FROM " + TABLE)), "22012", "first error");
            eq(sqlstate(() -> count(conn, "SELECT 1")), "25P02", "second error");
            conn.rollback();
            conn.setAutoCommit(true);
            eq(count(conn, "SELECT 1"), 1, "after rollback");
        });
        step("a unique violation (23505)", () -> {
            eq(sqlstate(() -> {
                try (PreparedStatement ps = conn.prepareStatement("INSERT INTO " + TABLE + " (id) VALUES (?)")) {
                    ps.setInt(1, 1);
                    ps.executeUpdate();
                }
            }), "23505", "sqlstate");
        });
        step("a prepared statement reused (server-prepared and binary after 5 runs)", () -> {
            try (PreparedStatement ps = conn.prepareStatement("SELECT id, t FROM " + TABLE + " WHERE id = ?")) {
                for (int i = 0; i < 8; i++) {
                    ps.setInt(1, 11);
                    try (ResultSet rs = ps.executeQuery()) {
                        check(rs.next(), "hit " + i);
                        eq(rs.getInt(1), 11, "id " + i);
                        eq(rs.getString(2), "committed", "t " + i);
                        check(!rs.next(), "one row " + i);
                    }
                    ps.setInt(1, 12345);
                    try (ResultSet rs = ps.executeQuery()) {
                        check(!rs.next(), "miss " + i);
                    }
                }
                check(ps.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare(), "server-prepared");
            }
        });
        step("100k rows fetched (setFetchSize: portals with row limits)", () -> {
            try (Statement s = conn.createStatement()) {
                s.execute("DROP TABLE IF EXISTS " + BIG);
                s.execute("DROP TABLE IF EXISTS " + BIG + "_digits");
                s.execute("CREATE TABLE " + BIG + "_digits (d integer)");
                s.execute("INSERT INTO " + BIG + "_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)");
                s.execute("CREATE TABLE " + BIG + " (n integer PRIMARY KEY)");
                String dg = BIG + "_digits";
                s.execute("INSERT INTO " + BIG + " SELECT a.d + 10 * b.d + 100 * c.d + 1000 * d.d + 10000 * e.d FROM "
                        + dg + " a, " + dg + " b, " + dg + " c, " + dg + " d, " + dg + " e");
                s.execute("DROP TABLE " + dg);
            }
            conn.setAutoCommit(false);
            try (PreparedStatement ps = conn.prepareStatement("SELECT n, md5(n::text) FROM " + BIG + " ORDER BY n")) {
                ps.setFetchSize(1000);
                long total = 0;
                int rows = 0;
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        eq(rs.getInt(1), rows, "row order");
                        check(rs.getString(2).length() == 32, "md5 width");
                        total += rs.getInt(1);
                        rows++;
                    }
                }
                eq(rows, BIG_ROWS, "rows");
                eq(total, (long) BIG_ROWS * (BIG_ROWS - 1) / 2, "sum");
            }
            conn.commit();
            conn.setAutoCommit(true);
        });
        step("a cancelled long query", () -> {
            try (Statement s = conn.createStatement()) {
                Thread t = new Thread(() -> {
                    try {
                        Thread.sleep(500);
                        s.cancel();
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                long start = System.nanoTime();
                t.start();
                eq(sqlstate(() -> s.executeQuery("SELECT pg_sleep(30)")), "57014", "sqlstate");
                t.join();
                check(System.nanoTime() - start < 10_000_000_000L, "cancel took too long");
            }
            eq(count(conn, "SELECT 2"), 2, "usable after cancel");
        });

        for (Map.Entry<String, Step> e : steps) {
            try {
                e.getValue().run();
            } catch (Throwable t) {
                System.out.println("FAILED step: " + e.getKey());
                t.printStackTrace(System.out);
                System.exit(1);
            }
            System.out.println("ok " + e.getKey());
        }
        try (Statement s = conn.createStatement()) {
            s.execute("DROP TABLE " + TABLE);
            s.execute("DROP TABLE " + BIG);
        }
        conn.close();
        System.out.println("SCENARIO PASSED " + steps.size() + " steps");
    }
}
