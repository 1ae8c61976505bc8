CREATE TABLE parent (id int PRIMARY KEY, name text);
CREATE TABLE t (
  id serial PRIMARY KEY,
  name text NOT NULL,
  qty integer DEFAULT 0,
  code varchar(10) UNIQUE,
  price numeric(10,2) CHECK (price > 0),
  parent_id integer REFERENCES parent(id)
);
CREATE INDEX t_name_idx ON t (name);
CREATE SEQUENCE s;
CREATE VIEW v AS SELECT id, name FROM t WHERE qty > 0;
