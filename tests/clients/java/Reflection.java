// Schema reflection through pgjdbc's DatabaseMetaData (see tests/clients.rs).
//
//   javac -cp postgresql.jar Reflection.java && java -cp postgresql.jar:. Reflection
//
// Creates a small schema (primary key, serial, NOT NULL, default, varchar(n),
// numeric(p,s), composite foreign key with ON DELETE CASCADE, a secondary
// index, a view) and asserts what getTables, getColumns, getPrimaryKeys,
// getImportedKeys, getExportedKeys and getIndexInfo answer, as on PostgreSQL
// 15 (the catalog queries are pgjdbc's own). Prints "ok <step>" per step and
// "REFLECTION PASSED <n> steps"; exits 1 on failure.

import java.sql.*;
import java.util.*;

public class Reflection {
    static final String SCHEMA = "refl_jdbc";
    static int steps = 0;

    static void eq(Object got, Object want, String what) {
        if (!Objects.deepEquals(got, want)) throw new AssertionError(what + ": got " + got + ", want " + want);
        steps++;
        System.out.println("ok " + what);
    }

    static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? dflt : v;
    }

    /// The rows of a metadata result, the named columns of each, as strings.
    static List<List<String>> rows(ResultSet rs, String... cols) throws SQLException {
        List<List<String>> out = new ArrayList<>();
        while (rs.next()) {
            List<String> row = new ArrayList<>();
            for (String c : cols) row.add(rs.getString(c));
            out.add(row);
        }
        rs.close();
        return out;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + env("PGHOST", "127.0.0.1") + ":" + env("PGPORT", "5432") + "/"
                + env("PGDATABASE", "postgres") + "?sslmode=disable";
        Properties p = new Properties();
        p.setProperty("user", env("PGUSER", "postgres"));
        if (System.getenv("PGPASSWORD") != null) p.setProperty("password", System.getenv("PGPASSWORD"));
        try (Connection conn = DriverManager.getConnection(url, p)) {
            try (Statement st = conn.createStatement()) {
                st.execute("DROP SCHEMA IF EXISTS " + SCHEMA + " CASCADE");
                st.execute("CREATE SCHEMA " + SCHEMA);
                st.execute("CREATE TABLE " + SCHEMA + ".parent (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL, UNIQUE (a, b))");
                st.execute("CREATE TABLE " + SCHEMA + ".child (id serial PRIMARY KEY, name varchar(40) NOT NULL, "
                        + "qty integer DEFAULT 7, price numeric(10,2), pa int, pb int, "
                        + "CONSTRAINT child_parent_fk FOREIGN KEY (pa, pb) REFERENCES " + SCHEMA + ".parent (a, b) ON DELETE CASCADE)");
                st.execute("CREATE INDEX child_name_idx ON " + SCHEMA + ".child (name)");
                st.execute("CREATE VIEW " + SCHEMA + ".child_names AS SELECT id, name FROM " + SCHEMA + ".child");
            }
            steps++;
            System.out.println("ok create schema");
            DatabaseMetaData md = conn.getMetaData();

            eq(rows(md.getTables(null, SCHEMA, "%", new String[] {"TABLE", "VIEW"}), "TABLE_NAME", "TABLE_TYPE"),
                    List.of(List.of("child", "TABLE"), List.of("parent", "TABLE"), List.of("child_names", "VIEW")),
                    "getTables");

            List<List<String>> cols = rows(md.getColumns(null, SCHEMA, "child", "%"),
                    "COLUMN_NAME", "TYPE_NAME", "COLUMN_SIZE", "DECIMAL_DIGITS", "IS_NULLABLE", "COLUMN_DEF", "IS_AUTOINCREMENT");
            eq(cols, List.of(
                    Arrays.asList("id", "serial", "10", "0", "NO", "nextval('" + SCHEMA + ".child_id_seq'::regclass)", "YES"),
                    Arrays.asList("name", "varchar", "40", "0", "NO", null, "NO"),
                    Arrays.asList("qty", "int4", "10", "0", "YES", "7", "NO"),
                    Arrays.asList("price", "numeric", "10", "2", "YES", null, "NO"),
                    Arrays.asList("pa", "int4", "10", "0", "YES", null, "NO"),
                    Arrays.asList("pb", "int4", "10", "0", "YES", null, "NO")), "getColumns");

            eq(rows(md.getPrimaryKeys(null, SCHEMA, "child"), "COLUMN_NAME", "KEY_SEQ", "PK_NAME"),
                    List.of(List.of("id", "1", "child_pkey")), "getPrimaryKeys");

            eq(rows(md.getImportedKeys(null, SCHEMA, "child"),
                            "PKTABLE_NAME", "PKCOLUMN_NAME", "FKCOLUMN_NAME", "KEY_SEQ", "DELETE_RULE", "FK_NAME"),
                    List.of(List.of("parent", "a", "pa", "1", String.valueOf(DatabaseMetaData.importedKeyCascade), "child_parent_fk"),
                            List.of("parent", "b", "pb", "2", String.valueOf(DatabaseMetaData.importedKeyCascade), "child_parent_fk")),
                    "getImportedKeys");

            eq(rows(md.getExportedKeys(null, SCHEMA, "parent"), "FKTABLE_NAME", "FKCOLUMN_NAME", "FK_NAME"),
                    List.of(List.of("child", "pa", "child_parent_fk"), List.of("child", "pb", "child_parent_fk")),
                    "getExportedKeys");

            eq(rows(md.getIndexInfo(null, SCHEMA, "child", false, false), "INDEX_NAME", "NON_UNIQUE", "ORDINAL_POSITION", "COLUMN_NAME"),
                    // Unique indexes first (NON_UNIQUE, then the name).
                    List.of(List.of("child_pkey", "f", "1", "id"), List.of("child_name_idx", "t", "1", "name")),
                    "getIndexInfo");

            try (Statement st = conn.createStatement()) {
                st.execute("DROP SCHEMA " + SCHEMA + " CASCADE");
            }
            steps++;
            System.out.println("ok drop schema");
        } catch (Throwable e) {
            e.printStackTrace();
            System.exit(1);
        }
        System.out.println("REFLECTION PASSED " + steps + " steps");
    }
}
