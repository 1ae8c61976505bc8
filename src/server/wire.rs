//! Wire forms of results: RowDescription fields, DataRows, format codes,
//! type OIDs, and ErrorResponse fields.
//!
//! Owns: turning [`Column`]s, [`Value`]s and [`Error`]s into pgwire messages
//! and the client's OIDs and format codes back into [`DataType`]s.
//! Never: executes anything or touches the socket.
//!
//! A DataRow field is an i32 length (-1 for NULL) followed by that many bytes
//! in the column's format (text: [`super::text`], binary: [`super::binary`]).

use bytes::{BufMut, BytesMut};
use pgwire::error::{ErrorInfo, SEVERITY_ERROR};
use pgwire::messages::data::{DataRow, FieldDescription, RowDescription};

use crate::db::Column;
use crate::error::{Error, Result, SqlState};
use crate::sql::signals::Notice;
use crate::types::{DataType, Value};

use super::{binary, text};

/// Format code of the text format.
pub const FORMAT_TEXT: i16 = 0;
/// Format code of the binary format.
pub const FORMAT_BINARY: i16 = 1;

/// `pg_type.typlen`: the byte width of fixed-size types, -1 for varlena,
/// -2 for C strings (unknown).
pub fn type_size(ty: &DataType) -> i16 {
    match ty {
        DataType::Bool => 1,
        DataType::Int2 => 2,
        DataType::Int4 | DataType::Float4 | DataType::Oid | DataType::Reg(_) | DataType::Date => 4,
        DataType::Int8
        | DataType::Float8
        | DataType::Time
        | DataType::Timestamp
        | DataType::Timestamptz => 8,
        DataType::Interval | DataType::Uuid => 16,
        DataType::Unknown => -2,
        DataType::Numeric(_)
        | DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Bytea
        | DataType::Json
        | DataType::Jsonb
        | DataType::Array(_)
        | DataType::Vector(_)
        | DataType::Record(_) => -1,
    }
}

/// `atttypmod` as PostgreSQL reports it: declared length + 4 for
/// varchar/char, `((precision << 16) | scale) + 4` for numeric, else -1.
pub fn type_modifier(ty: &DataType) -> i32 {
    const VARHDRSZ: i32 = 4;
    match ty {
        DataType::Varchar(Some(n)) | DataType::Char(Some(n)) => {
            i32::try_from(*n).map_or(-1, |n| n.saturating_add(VARHDRSZ))
        }
        DataType::Numeric(Some((p, s))) => ((i32::from(*p) << 16) | i32::from(*s)) + VARHDRSZ,
        _ => -1,
    }
}

/// The type a client means by a parameter OID in Parse; `None` for 0
/// ("infer it"). An OID we have no type for is 0A000 unless it is a real
/// PostgreSQL type we simply lack, in which case it is still 0A000 — the
/// client asked for something we cannot represent yet.
pub fn data_type_from_oid(oid: u32) -> Result<Option<DataType>> {
    if oid == 0 {
        return Ok(None);
    }
    let scalar = |oid: u32| -> Option<DataType> {
        Some(match oid {
            16 => DataType::Bool,
            17 => DataType::Bytea,
            20 => DataType::Int8,
            21 => DataType::Int2,
            23 => DataType::Int4,
            25 => DataType::Text,
            26 => DataType::Oid,
            24 => DataType::Reg(crate::types::RegKind::Proc),
            2205 => DataType::Reg(crate::types::RegKind::Class),
            2206 => DataType::Reg(crate::types::RegKind::Type),
            4089 => DataType::Reg(crate::types::RegKind::Namespace),
            4096 => DataType::Reg(crate::types::RegKind::Role),
            114 => DataType::Json,
            700 => DataType::Float4,
            701 => DataType::Float8,
            705 => DataType::Unknown,
            1042 => DataType::Char(None),
            1043 => DataType::Varchar(None),
            1082 => DataType::Date,
            1083 => DataType::Time,
            1114 => DataType::Timestamp,
            1184 => DataType::Timestamptz,
            1186 => DataType::Interval,
            1700 => DataType::Numeric(None),
            2950 => DataType::Uuid,
            3802 => DataType::Jsonb,
            _ => return None,
        })
    };
    if let Some(ty) = scalar(oid) {
        return Ok(Some(ty));
    }
    // Arrays: find the element whose array OID this is.
    for elem_oid in [
        16, 17, 20, 21, 23, 25, 26, 114, 700, 701, 1042, 1043, 1082, 1083, 1114, 1184, 1186, 1700,
        2950, 3802,
    ] {
        if let Some(elem) = scalar(elem_oid) {
            let array = DataType::Array(Box::new(elem));
            if array.oid() == oid {
                return Ok(Some(array));
            }
        }
    }
    Err(Error::unsupported(format!("parameter type with OID {oid}")))
}

/// Resolves Bind's format codes (none = all text, one = all alike, else one
/// per item) for `count` items. `what` names them in the error, as
/// PostgreSQL does ("parameter formats", "result formats").
pub fn resolve_formats(codes: &[i16], count: usize, what: &str) -> Result<Vec<i16>> {
    let formats = match codes {
        [] => vec![FORMAT_TEXT; count],
        [one] => vec![*one; count],
        many if many.len() == count => many.to_vec(),
        many => {
            let message = if what == "result formats" {
                format!(
                    "bind message has {} result formats but query has {count} columns",
                    many.len()
                )
            } else {
                format!(
                    "bind message has {} parameter formats but {count} parameters",
                    many.len()
                )
            };
            return Err(Error::new(SqlState::PROTOCOL_VIOLATION, message));
        }
    };
    if let Some(bad) = formats
        .iter()
        .find(|f| **f != FORMAT_TEXT && **f != FORMAT_BINARY)
    {
        return Err(Error::new(
            SqlState::PROTOCOL_VIOLATION,
            format!("unsupported format code: {bad}"),
        ));
    }
    Ok(formats)
}

/// RowDescription for `columns`, each sent in `formats[i]` (text if absent).
pub fn row_description(columns: &[Column], formats: &[i16]) -> RowDescription {
    let fields = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            FieldDescription::new(
                c.name.clone(),
                0,
                0,
                c.data_type.oid(),
                type_size(&c.data_type),
                type_modifier(&c.data_type),
                formats.get(i).copied().unwrap_or(FORMAT_TEXT),
            )
        })
        .collect();
    RowDescription::new(fields)
}

/// Checks that every column can be sent in the format asked for, before any
/// row is produced (PostgreSQL fails at Bind, not halfway through a result).
pub fn check_result_formats(columns: &[Column], formats: &[i16]) -> Result<()> {
    for (c, f) in columns.iter().zip(formats) {
        if *f == FORMAT_BINARY && !binary::supports(&c.data_type) {
            return Err(Error::unsupported(format!(
                "binary output format for type {}",
                c.data_type.name()
            )));
        }
    }
    Ok(())
}

/// One DataRow: `row[i]` of `columns[i]` in `formats[i]` (text if absent).
pub fn data_row(columns: &[Column], formats: &[i16], row: &[Value]) -> Result<DataRow> {
    let mut data = BytesMut::new();
    let mut scratch = Vec::new();
    for (i, value) in row.iter().enumerate() {
        if value.is_null() {
            data.put_i32(-1);
            continue;
        }
        let format = formats.get(i).copied().unwrap_or(FORMAT_TEXT);
        let bytes: &[u8] = if format == FORMAT_BINARY {
            let ty = columns
                .get(i)
                .map(|c| &c.data_type)
                .ok_or_else(|| Error::internal("row has more values than columns"))?;
            scratch.clear();
            binary::encode(value, ty, &mut scratch)?;
            &scratch
        } else {
            scratch = text::encode(value).into_bytes();
            &scratch
        };
        let len = i32::try_from(bytes.len()).map_err(|_| {
            Error::new(
                SqlState::PROGRAM_LIMIT_EXCEEDED,
                "value too large to send in a DataRow",
            )
        })?;
        data.put_i32(len);
        data.put_slice(bytes);
    }
    let field_count = i16::try_from(row.len())
        .map_err(|_| Error::new(SqlState::PROGRAM_LIMIT_EXCEEDED, "too many columns"))?;
    Ok(DataRow::new(data, field_count))
}

/// The ErrorResponse fields for `e`: severity, SQLSTATE, message, and
/// detail / hint / position when present.
pub fn error_info(e: &Error) -> ErrorInfo {
    // A session ended by pg_terminate_backend: FATAL, and the connection
    // closes after it.
    let severity = if e.sqlstate == SqlState::ADMIN_SHUTDOWN {
        pgwire::error::SEVERITY_FATAL
    } else {
        SEVERITY_ERROR
    };
    let mut info = ErrorInfo::new(
        severity.to_owned(),
        e.sqlstate.code().to_owned(),
        e.message.clone(),
    );
    info.severity_nonlocalized = Some(severity.to_owned());
    info.detail = e.detail.clone();
    info.hint = e.hint.clone();
    info.position = e.position.map(|p| p.to_string());
    info.where_context = e.context.clone();
    info
}

/// The NoticeResponse fields of a notice.
pub fn notice_info(n: &Notice) -> ErrorInfo {
    let severity = n.severity.as_str().to_owned();
    let mut info = ErrorInfo::new(
        severity.clone(),
        n.sqlstate.code().to_owned(),
        n.message.clone(),
    );
    info.severity_nonlocalized = Some(severity);
    info.detail = n.detail.clone();
    info.hint = n.hint.clone();
    info
}

/// A FATAL ErrorResponse: the connection ends after it.
pub fn fatal_info(sqlstate: SqlState, message: impl Into<String>) -> ErrorInfo {
    let mut info = ErrorInfo::new(
        pgwire::error::SEVERITY_FATAL.to_owned(),
        sqlstate.code().to_owned(),
        message.into(),
    );
    info.severity_nonlocalized = Some(pgwire::error::SEVERITY_FATAL.to_owned());
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_sizes_match_pg_type_typlen() {
        assert_eq!(type_size(&DataType::Bool), 1);
        assert_eq!(type_size(&DataType::Int2), 2);
        assert_eq!(type_size(&DataType::Int4), 4);
        assert_eq!(type_size(&DataType::Int8), 8);
        assert_eq!(type_size(&DataType::Float8), 8);
        assert_eq!(type_size(&DataType::Numeric(None)), -1);
        assert_eq!(type_size(&DataType::Text), -1);
        assert_eq!(type_size(&DataType::Uuid), 16);
        assert_eq!(type_size(&DataType::Unknown), -2);
    }

    #[test]
    fn type_modifiers_match_atttypmod() {
        assert_eq!(type_modifier(&DataType::Varchar(Some(10))), 14);
        assert_eq!(
            type_modifier(&DataType::Numeric(Some((10, 2)))),
            (10 << 16 | 2) + 4
        );
        assert_eq!(type_modifier(&DataType::Text), -1);
    }

    #[test]
    fn every_oid_maps_back_to_its_type() {
        for ty in [
            DataType::Bool,
            DataType::Int4,
            DataType::Numeric(None),
            DataType::Varchar(None),
            DataType::Array(Box::new(DataType::Int8)),
        ] {
            assert_eq!(data_type_from_oid(ty.oid()).unwrap(), Some(ty));
        }
        assert_eq!(data_type_from_oid(0).unwrap(), None);
        assert_eq!(
            data_type_from_oid(600).unwrap_err().sqlstate,
            SqlState::FEATURE_NOT_SUPPORTED
        );
    }

    #[test]
    fn format_codes_expand_like_postgres() {
        assert_eq!(resolve_formats(&[], 2, "result formats").unwrap(), [0, 0]);
        assert_eq!(
            resolve_formats(&[1], 3, "result formats").unwrap(),
            [1, 1, 1]
        );
        assert_eq!(
            resolve_formats(&[0, 1], 2, "parameter formats").unwrap(),
            [0, 1]
        );
        let e = resolve_formats(&[0, 1], 3, "result formats").unwrap_err();
        assert_eq!(e.sqlstate, SqlState::PROTOCOL_VIOLATION);
        assert_eq!(
            e.message,
            "bind message has 2 result formats but query has 3 columns"
        );
        let e = resolve_formats(&[7], 1, "parameter formats").unwrap_err();
        assert_eq!(e.message, "unsupported format code: 7");
    }

    #[test]
    fn data_rows_mark_nulls_and_lengths() {
        let cols = vec![
            Column {
                name: "a".into(),
                data_type: DataType::Int4,
            },
            Column {
                name: "b".into(),
                data_type: DataType::Text,
            },
        ];
        let row = data_row(&cols, &[1, 0], &[Value::Int4(5), Value::Null]).unwrap();
        assert_eq!(row.field_count, 2);
        assert_eq!(
            &row.data[..],
            &[0, 0, 0, 4, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff]
        );
        let row = data_row(&cols, &[0, 0], &[Value::Int4(-7), Value::Text("hi".into())]).unwrap();
        assert_eq!(
            &row.data[..],
            &[0, 0, 0, 2, b'-', b'7', 0, 0, 0, 2, b'h', b'i']
        );
    }

    #[test]
    fn error_fields_carry_detail_hint_position() {
        let e = Error::new(SqlState::SYNTAX_ERROR, "syntax error at or near \"x\"")
            .with_hint("h")
            .with_detail("d")
            .with_position(8);
        let info = error_info(&e);
        assert_eq!(info.code, "42601");
        assert_eq!(info.severity, "ERROR");
        assert_eq!(info.detail.as_deref(), Some("d"));
        assert_eq!(info.hint.as_deref(), Some("h"));
        assert_eq!(info.position.as_deref(), Some("8"));
    }
}
