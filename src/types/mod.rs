//! SQL data types and values: the vocabulary every layer above storage speaks.
//!
//! Owns: [`DataType`] (with PostgreSQL type OIDs and names), [`Value`] (one
//! SQL value), and their text input/output in PostgreSQL's formats.
//! Never: touches storage, sessions or the wire.

pub mod array;
pub mod datetime;
pub mod datetime_parse;
pub mod json;
pub mod numeric;
pub mod text;
pub mod uuid;

pub use datetime::Interval;
pub use json::Jsonb;
pub use numeric::Numeric;

/// A SQL data type, as PostgreSQL names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// numeric(precision, scale); `None` is unconstrained numeric.
    Numeric(Option<(u16, u16)>),
    Text,
    /// varchar(n); `None` is unbounded.
    Varchar(Option<u32>),
    /// char(n) (PostgreSQL's bpchar).
    Char(Option<u32>),
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    /// `oid`: a value is `Value::Int8` in 0..=u32::MAX.
    Oid,
    /// `regclass`, `regtype`, …: an oid (`Value::Int8`) that reads and
    /// prints as the name of the object it identifies (`sql/pg_catalog`).
    Reg(RegKind),
    Array(Box<DataType>),
    /// `int2vector` / `oidvector` (pg_index.indkey, pg_proc.proargtypes):
    /// values are `Value::Array`s of int2 / oid; printed space-separated,
    /// subscripted from 0, and an array of the element type in every other
    /// expression (see `DataType::devector`).
    Vector(VectorKind),
    /// An anonymous composite (`record`) with named fields: a value is a
    /// `Value::Array` of the fields, printed `(a,b)`; `(r).name` reads a
    /// field. Only what catalog queries need (`_pg_expandarray`).
    Record(Vec<(String, DataType)>),
    /// The type of an untyped string literal or parameter before inference.
    Unknown,
}

/// The element type of a [`DataType::Vector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VectorKind {
    Int2,
    Oid,
}

impl VectorKind {
    pub fn element(self) -> DataType {
        match self {
            VectorKind::Int2 => DataType::Int2,
            VectorKind::Oid => DataType::Oid,
        }
    }
}

impl DataType {
    /// The array type a vector type behaves as in expressions; any other
    /// type is itself.
    pub fn devector(&self) -> DataType {
        match self {
            DataType::Vector(k) => DataType::Array(Box::new(k.element())),
            t => t.clone(),
        }
    }

    /// The element type of a vector or array type; any other type is
    /// itself.
    pub fn devector_element(&self) -> DataType {
        match self {
            DataType::Vector(k) => k.element(),
            DataType::Array(e) => (**e).clone(),
            t => t.clone(),
        }
    }

    /// The PostgreSQL type OID, as sent in RowDescription and ParameterDescription.
    pub fn oid(&self) -> u32 {
        match self {
            DataType::Vector(VectorKind::Int2) => 22,
            DataType::Vector(VectorKind::Oid) => 30,
            DataType::Record(_) => 2249,
            DataType::Bool => 16,
            DataType::Bytea => 17,
            DataType::Int8 => 20,
            DataType::Int2 => 21,
            DataType::Int4 => 23,
            DataType::Text => 25,
            DataType::Oid => 26,
            DataType::Reg(k) => k.type_oid(),
            DataType::Json => 114,
            DataType::Float4 => 700,
            DataType::Float8 => 701,
            DataType::Unknown => 705,
            DataType::Char(_) => 1042,
            DataType::Varchar(_) => 1043,
            DataType::Date => 1082,
            DataType::Time => 1083,
            DataType::Timestamp => 1114,
            DataType::Timestamptz => 1184,
            DataType::Interval => 1186,
            DataType::Numeric(_) => 1700,
            DataType::Uuid => 2950,
            DataType::Jsonb => 3802,
            DataType::Array(elem) => match elem.as_ref() {
                DataType::Bool => 1000,
                DataType::Bytea => 1001,
                DataType::Int2 => 1005,
                DataType::Int4 => 1007,
                DataType::Text => 1009,
                DataType::Char(_) => 1014,
                DataType::Varchar(_) => 1015,
                DataType::Int8 => 1016,
                DataType::Float4 => 1021,
                DataType::Float8 => 1022,
                DataType::Oid => 1028,
                DataType::Reg(k) => k.array_oid(),
                DataType::Timestamp => 1115,
                DataType::Date => 1182,
                DataType::Time => 1183,
                DataType::Timestamptz => 1185,
                DataType::Interval => 1187,
                DataType::Numeric(_) => 1231,
                DataType::Uuid => 2951,
                DataType::Json => 199,
                DataType::Jsonb => 3807,
                DataType::Vector(VectorKind::Int2) => 1006,
                DataType::Vector(VectorKind::Oid) => 1013,
                DataType::Record(_) => 2287,
                DataType::Unknown | DataType::Array(_) => 0,
            },
        }
    }

    /// Whether the type carries a modifier values must be fitted to
    /// (numeric(p,s), varchar(n), char(n)).
    pub fn has_typmod(&self) -> bool {
        matches!(
            self,
            DataType::Numeric(Some(_)) | DataType::Varchar(Some(_)) | DataType::Char(Some(_))
        )
    }

    /// The type's name as `format_type` / error messages print it.
    pub fn name(&self) -> String {
        match self {
            DataType::Vector(VectorKind::Int2) => "int2vector".into(),
            DataType::Vector(VectorKind::Oid) => "oidvector".into(),
            DataType::Record(_) => "record".into(),
            DataType::Bool => "boolean".into(),
            DataType::Int2 => "smallint".into(),
            DataType::Int4 => "integer".into(),
            DataType::Int8 => "bigint".into(),
            DataType::Float4 => "real".into(),
            DataType::Float8 => "double precision".into(),
            DataType::Numeric(None) => "numeric".into(),
            DataType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            DataType::Text => "text".into(),
            DataType::Varchar(None) => "character varying".into(),
            DataType::Varchar(Some(n)) => format!("character varying({n})"),
            DataType::Char(None) => "character".into(),
            DataType::Char(Some(n)) => format!("character({n})"),
            DataType::Bytea => "bytea".into(),
            DataType::Date => "date".into(),
            DataType::Time => "time without time zone".into(),
            DataType::Timestamp => "timestamp without time zone".into(),
            DataType::Timestamptz => "timestamp with time zone".into(),
            DataType::Interval => "interval".into(),
            DataType::Uuid => "uuid".into(),
            DataType::Json => "json".into(),
            DataType::Jsonb => "jsonb".into(),
            DataType::Oid => "oid".into(),
            DataType::Reg(k) => k.name().into(),
            DataType::Array(elem) => format!("{}[]", elem.name()),
            DataType::Unknown => "unknown".into(),
        }
    }
}

/// The object-identifier alias types (`regclass` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegKind {
    Class,
    Type,
    Namespace,
    Proc,
    Role,
}

impl RegKind {
    pub fn name(self) -> &'static str {
        match self {
            RegKind::Class => "regclass",
            RegKind::Type => "regtype",
            RegKind::Namespace => "regnamespace",
            RegKind::Proc => "regproc",
            RegKind::Role => "regrole",
        }
    }

    /// PostgreSQL's type oid.
    pub fn type_oid(self) -> u32 {
        match self {
            RegKind::Class => 2205,
            RegKind::Type => 2206,
            RegKind::Namespace => 4089,
            RegKind::Proc => 24,
            RegKind::Role => 4096,
        }
    }

    /// PostgreSQL's oid of the array type.
    pub fn array_oid(self) -> u32 {
        match self {
            RegKind::Class => 2210,
            RegKind::Type => 2211,
            RegKind::Namespace => 4090,
            RegKind::Proc => 1008,
            RegKind::Role => 4097,
        }
    }
}

/// One SQL value. `Null` is typeless; the column or expression carries the type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    Numeric(Numeric),
    /// text, varchar, char and unknown-typed literals.
    Text(String),
    Bytea(Vec<u8>),
    /// Days since 2000-01-01 (`i32::MIN` / `i32::MAX`: ∓infinity).
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 2000-01-01 00:00, no zone.
    Timestamp(i64),
    /// Microseconds since 2000-01-01 00:00 UTC.
    Timestamptz(i64),
    Interval(Interval),
    Uuid([u8; 16]),
    /// The input text, validated.
    Json(String),
    Jsonb(Jsonb),
    /// A one-dimensional array (lower bound 1) of the column's element type.
    Array(Vec<Value>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl Value {
    /// The value in PostgreSQL's text output format (`t`/`f`, shortest
    /// round-trip floats, numeric with its display scale, `\x…` bytea).
    /// `Null` has no text form; callers send it as SQL NULL (this returns "").
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
            Value::Int2(v) => v.to_string(),
            Value::Int4(v) => v.to_string(),
            Value::Int8(v) => v.to_string(),
            Value::Float4(v) => text::float4_to_text(*v),
            Value::Float8(v) => text::float8_to_text(*v),
            Value::Numeric(n) => n.to_string(),
            Value::Text(s) => s.clone(),
            Value::Bytea(b) => text::bytea_to_text(b),
            Value::Date(d) => datetime::date_to_text(*d),
            Value::Time(t) => datetime::time_to_text(*t),
            Value::Timestamp(t) => datetime::timestamp_to_text(*t),
            Value::Timestamptz(t) => datetime::timestamptz_to_text(*t),
            Value::Interval(iv) => datetime::interval_to_text(iv),
            Value::Uuid(u) => uuid::uuid_to_text(u),
            Value::Json(s) => s.clone(),
            Value::Jsonb(j) => j.to_text(),
            Value::Array(items) => array::array_to_text(items),
        }
    }
}

/// Parses `text` in PostgreSQL's text input format for `ty` (the type's input
/// function): 22P02 on bad syntax, 22003 when out of range, 22001 when too
/// long for a bounded character type.
pub fn parse_text(ty: &DataType, text: &str) -> crate::Result<Value> {
    text::parse_text(ty, text)
}
