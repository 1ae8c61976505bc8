"""Schema reflection by SQLAlchemy and Django (see tests/clients.rs).

    python3 reflection.py sqlalchemy|django

Connects with PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE through psycopg2,
creates a small schema (a primary key, a serial, NOT NULL, a default, a
varchar(n), a numeric(p,s), a UNIQUE constraint, a CHECK, a composite
foreign key with ON DELETE CASCADE, a secondary index, a view), reflects it
with the library's own catalog queries and asserts what they find, as they
find it on PostgreSQL 15. Prints "ok <step>" per step and
"REFLECTION PASSED <n> steps" at the end; exits 77 with a "skip:" line when
the library is not installed, 1 on the first failure.
"""

import os
import sys
import traceback

LIBRARY = sys.argv[1] if len(sys.argv) > 1 else "sqlalchemy"
SCHEMA = "refl_" + LIBRARY

DDL = [
    f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE",
    f"CREATE SCHEMA {SCHEMA}",
    f"CREATE TABLE {SCHEMA}.parent (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL, UNIQUE (a, b))",
    f"""CREATE TABLE {SCHEMA}.child (
        id serial PRIMARY KEY,
        name varchar(40) NOT NULL,
        qty integer DEFAULT 7,
        price numeric(10,2) CONSTRAINT price_positive CHECK (price > 0),
        pa int,
        pb int,
        CONSTRAINT child_parent_fk FOREIGN KEY (pa, pb) REFERENCES {SCHEMA}.parent (a, b) ON DELETE CASCADE
    )""",
    f"CREATE INDEX child_name_idx ON {SCHEMA}.child (name)",
    f"CREATE UNIQUE INDEX child_qty_price_idx ON {SCHEMA}.child (qty, price)",
    f"CREATE VIEW {SCHEMA}.child_names AS SELECT id, name FROM {SCHEMA}.child",
]

steps = 0


def ok(name):
    global steps
    steps += 1
    print("ok", name, flush=True)


def expect(name, got, want):
    if got != want:
        raise AssertionError(f"{name}: got {got!r}, want {want!r}")
    ok(name)


def engine():
    """A SQLAlchemy engine whose connections libpq makes from PG* variables."""
    import psycopg2
    import sqlalchemy as sa

    return sa.create_engine("postgresql+psycopg2://", creator=lambda: psycopg2.connect(""))


def create_schema():
    import psycopg2

    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    for stmt in DDL:
        cur.execute(stmt)
    conn.close()
    ok("create schema")


def drop_schema():
    import psycopg2

    conn = psycopg2.connect("")
    conn.autocommit = True
    conn.cursor().execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    conn.close()
    ok("drop schema")


def sqlalchemy_steps():
    import sqlalchemy as sa

    eng = engine()
    insp = sa.inspect(eng)
    expect("table names", sorted(insp.get_table_names(schema=SCHEMA)), ["child", "parent"])
    expect("view names", insp.get_view_names(schema=SCHEMA), ["child_names"])
    expect("has_table", (insp.has_table("child", schema=SCHEMA), insp.has_table("nope", schema=SCHEMA)), (True, False))

    cols = insp.get_columns("child", schema=SCHEMA)
    shown = [
        (c["name"], str(c["type"]), c["nullable"], c["default"], bool(c.get("autoincrement")))
        for c in cols
    ]
    expect(
        "columns",
        shown,
        [
            ("id", "INTEGER", False, f"nextval('{SCHEMA}.child_id_seq'::regclass)", True),
            ("name", "VARCHAR(40)", False, None, False),
            ("qty", "INTEGER", True, "7", False),
            ("price", "NUMERIC(10, 2)", True, None, False),
            ("pa", "INTEGER", True, None, False),
            ("pb", "INTEGER", True, None, False),
        ],
    )

    pk = insp.get_pk_constraint("child", schema=SCHEMA)
    expect("primary key", (pk["name"], pk["constrained_columns"]), ("child_pkey", ["id"]))

    fks = insp.get_foreign_keys("child", schema=SCHEMA)
    expect(
        "foreign keys",
        [
            (f["name"], f["constrained_columns"], f["referred_schema"], f["referred_table"],
             f["referred_columns"], f["options"].get("ondelete"))
            for f in fks
        ],
        [("child_parent_fk", ["pa", "pb"], SCHEMA, "parent", ["a", "b"], "CASCADE")],
    )

    idx = insp.get_indexes("child", schema=SCHEMA)
    expect(
        "indexes",
        sorted((i["name"], i["column_names"], bool(i["unique"])) for i in idx),
        [("child_name_idx", ["name"], False), ("child_qty_price_idx", ["qty", "price"], True)],
    )

    uniq = insp.get_unique_constraints("parent", schema=SCHEMA)
    expect("unique constraints", [(u["name"], u["column_names"]) for u in uniq], [("parent_a_b_key", ["a", "b"])])

    checks = insp.get_check_constraints("child", schema=SCHEMA)
    expect("check constraints", [(c["name"], c["sqltext"]) for c in checks], [("price_positive", "price > 0::numeric")])

    view_cols = [(c["name"], str(c["type"])) for c in insp.get_columns("child_names", schema=SCHEMA)]
    expect("view columns", view_cols, [("id", "INTEGER"), ("name", "VARCHAR(40)")])

    # Reflect into Table objects and use them.
    md = sa.MetaData()
    child = sa.Table("child", md, autoload_with=eng, schema=SCHEMA)
    parent = sa.Table("parent", md, autoload_with=eng, schema=SCHEMA)
    with eng.begin() as conn:
        conn.execute(parent.insert().values(id=1, a=10, b=20))
        conn.execute(child.insert().values(name="x", price=3, pa=10, pb=20))
        got = conn.execute(sa.select(child.c.id, child.c.name, child.c.qty).order_by(child.c.id)).all()
    expect("reflected table round trip", [tuple(r) for r in got], [(1, "x", 7)])
    eng.dispose()


def django_steps():
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": os.environ.get("PGDATABASE", "postgres"),
                "USER": os.environ.get("PGUSER", "postgres"),
                "PASSWORD": os.environ.get("PGPASSWORD", ""),
                "HOST": os.environ.get("PGHOST", "127.0.0.1"),
                "PORT": os.environ.get("PGPORT", "5432"),
                "OPTIONS": {"options": f"-c search_path={SCHEMA}"},
            }
        },
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()
    from django.db import connection

    intro = connection.introspection
    with connection.cursor() as cur:
        tables = sorted((t.name, t.type) for t in intro.get_table_list(cur))
        expect("table list", tables, [("child", "t"), ("child_names", "v"), ("parent", "t")])

        desc = intro.get_table_description(cur, "child")
        shown = [
            (d.name, intro.get_field_type(d.type_code, d), d.null_ok, d.default, d.is_autofield)
            for d in desc
        ]
        expect(
            "table description",
            shown,
            [
                # is_autofield: identity columns only, not serial.
                ("id", "AutoField", False, f"nextval('child_id_seq'::regclass)", False),
                ("name", "CharField", False, None, False),
                ("qty", "IntegerField", True, "7", False),
                ("price", "DecimalField", True, None, False),
                ("pa", "IntegerField", True, None, False),
                ("pb", "IntegerField", True, None, False),
            ],
        )
        expect(
            "varchar and numeric sizes",
            [(d.name, d.display_size, d.precision, d.scale) for d in desc if d.name in ("name", "price")],
            [("name", 40, None, None), ("price", None, 10, 2)],
        )

        seqs = intro.get_sequences(cur, "child")
        expect("sequences", [(s["name"], s["column"]) for s in seqs], [("child_id_seq", "id")])

        expect("primary key column", intro.get_primary_key_column(cur, "child"), "id")

        rels = intro.get_relations(cur, "child")
        # Django keeps the first column of a composite foreign key.
        expect("relations", rels, {"pa": ("a", "parent")})

        cons = intro.get_constraints(cur, "child")
        summary = sorted(
            (name, tuple(c["columns"]), c["primary_key"], c["unique"], bool(c["foreign_key"]),
             c["check"], c["index"])
            for name, c in cons.items()
        )
        expect(
            "constraints",
            summary,
            [
                ("child_name_idx", ("name",), False, False, False, False, True),
                ("child_parent_fk", ("pa", "pb"), False, False, True, False, False),
                ("child_pkey", ("id",), True, True, False, False, False),
                ("child_qty_price_idx", ("qty", "price"), False, True, False, False, True),
                ("price_positive", ("price",), False, False, False, True, False),
            ],
        )
    connection.close()


def main():
    try:
        if LIBRARY == "sqlalchemy":
            import sqlalchemy  # noqa: F401
            import psycopg2  # noqa: F401
        elif LIBRARY == "django":
            import django  # noqa: F401
            import psycopg2  # noqa: F401
        else:
            print(f"unknown library {LIBRARY}")
            return 2
    except ImportError as e:
        print(f"skip: {e}")
        return 77
    try:
        create_schema()
        if LIBRARY == "sqlalchemy":
            sqlalchemy_steps()
        else:
            django_steps()
        drop_schema()
    except Exception:
        traceback.print_exc()
        return 1
    print(f"REFLECTION PASSED {steps} steps", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
