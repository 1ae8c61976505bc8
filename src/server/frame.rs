//! Framing and validating frontend messages before pgwire decodes them.
//!
//! pgwire 0.42.1's decoders trust the bytes they get: a length field that
//! lies, a parameter count with too few parameters after it, or a Bind
//! parameter longer than its message makes them read past the message (into
//! the next one) or panic. So the connection reads the socket itself, cuts
//! out exactly one message, walks its fields here, and only then hands the
//! message — alone in its buffer — to pgwire's decoder.
//!
//! Message layouts (after the type byte and the i32 length, which counts
//! itself but not the type byte; `str` is a NUL-terminated string):
//!
//! | type | message   | body                                                       |
//! |------|-----------|------------------------------------------------------------|
//! | —    | startup   | i32 code, then (3.x) `str` key/value pairs and a final NUL  |
//! | `Q`  | Query     | `str` sql                                                  |
//! | `P`  | Parse     | `str` name, `str` sql, i16 n, n × i32 type OID             |
//! | `B`  | Bind      | `str` portal, `str` statement, i16 n, n × i16 format,      |
//! |      |           | i16 m, m × (i32 len (-1 = NULL), len bytes), i16 k, k × i16 |
//! | `D`  | Describe  | u8 'S'/'P', `str` name                                      |
//! | `C`  | Close     | u8 'S'/'P', `str` name                                      |
//! | `E`  | Execute   | `str` portal, i32 max rows                                  |
//! | `S` `H` `X` `c` | Sync, Flush, Terminate, CopyDone | empty                    |
//! | `d`  | CopyData  | bytes                                                       |
//! | `f`  | CopyFail  | `str` message                                               |
//! | `p`  | password / SASL | bytes                                                 |
//!
//! Invariant: a frame returned by [`next_frame`] is exactly one message whose
//! every field lies inside it; anything else is an error naming what is
//! wrong, as PostgreSQL's "invalid message format" family does.

use bytes::BytesMut;

/// Largest startup packet (PostgreSQL's MAX_STARTUP_PACKET_LENGTH).
pub const STARTUP_PACKET_MAX_BYTES: usize = 10_000;
/// Largest typed message (PostgreSQL's PQ_LARGE_MESSAGE_LIMIT, 1 GiB - 1).
pub const MESSAGE_MAX_BYTES: usize = (1 << 30) - 1;
/// The startup codes that are not protocol versions.
const CANCEL_REQUEST_CODE: i32 = 80_877_102;
/// CancelRequest: length, code, pid, and a secret key of 4..=256 bytes.
const CANCEL_REQUEST_MIN_BYTES: usize = 16;
const CANCEL_REQUEST_MAX_BYTES: usize = 12 + 256;

/// Cuts the next complete message out of `buf`: `Ok(None)` if more bytes
/// are needed, `Err` with a reason if the bytes cannot be a message.
/// `startup` selects the untyped startup-packet layout.
pub fn next_frame(buf: &mut BytesMut, startup: bool) -> Result<Option<BytesMut>, String> {
    if startup {
        let Some(len) = read_i32(buf, 0) else {
            return Ok(None);
        };
        let len = usize::try_from(len).unwrap_or(0);
        if !(8..=STARTUP_PACKET_MAX_BYTES).contains(&len) {
            return Err("invalid length of startup packet".into());
        }
        if buf.len() < len {
            return Ok(None);
        }
        let frame = buf.split_to(len);
        validate_startup(&frame[4..])?;
        return Ok(Some(frame));
    }
    let Some(&ty) = buf.first() else {
        return Ok(None);
    };
    if !is_known_type(ty) {
        return Err(format!("invalid frontend message type {ty}"));
    }
    let Some(len) = read_i32(buf, 1) else {
        return Ok(None);
    };
    let len = usize::try_from(len).unwrap_or(0);
    if !(4..=MESSAGE_MAX_BYTES).contains(&len) {
        return Err(format!(
            "invalid message length {len} for message type {ty}"
        ));
    }
    if buf.len() < len + 1 {
        return Ok(None);
    }
    let frame = buf.split_to(len + 1);
    validate_body(ty, &frame[5..])
        .map_err(|what| format!("invalid message format: {what} (message type {ty})"))?;
    Ok(Some(frame))
}

fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    let bytes = buf.get(at..at + 4)?;
    Some(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn is_known_type(ty: u8) -> bool {
    matches!(
        ty,
        b'Q' | b'P' | b'B' | b'D' | b'C' | b'E' | b'S' | b'H' | b'X' | b'd' | b'c' | b'f' | b'p'
    )
}

fn validate_startup(body: &[u8]) -> Result<(), String> {
    let mut c = Cursor(body);
    let code = c
        .i32()
        .map_err(|_| "invalid length of startup packet".to_owned())?;
    if code == CANCEL_REQUEST_CODE {
        let len = body.len() + 4;
        if !(CANCEL_REQUEST_MIN_BYTES..=CANCEL_REQUEST_MAX_BYTES).contains(&len) {
            return Err("invalid length of cancel request packet".into());
        }
        return Ok(());
    }
    if code >> 16 == 3 {
        // Protocol 3: key/value strings, then the terminating NUL.
        let layout =
            || "invalid startup packet layout: expected terminator as last byte".to_owned();
        loop {
            match c.0 {
                [0] => break,
                [] | [0, ..] => return Err(layout()),
                _ => {
                    c.cstr().map_err(|_| layout())?;
                    c.cstr().map_err(|_| layout())?;
                }
            }
        }
    }
    // Other codes (SSLRequest out of turn, old protocols) are well framed;
    // pgwire rejects them with its own error.
    Ok(())
}

fn validate_body(ty: u8, body: &[u8]) -> Result<(), &'static str> {
    let mut c = Cursor(body);
    match ty {
        b'Q' | b'f' => {
            c.cstr()?;
        }
        b'P' => {
            c.cstr()?;
            c.cstr()?;
            let n = c.count()?;
            c.skip(n * 4)?;
        }
        b'B' => {
            c.cstr()?;
            c.cstr()?;
            let formats = c.count()?;
            c.skip(formats * 2)?;
            let params = c.count()?;
            for _ in 0..params {
                let len = c.i32()?;
                match len {
                    -1 => {}
                    len if len >= 0 => c.skip(usize::try_from(len).map_err(|_| "length")?)?,
                    _ => return Err("invalid parameter length"),
                }
            }
            let results = c.count()?;
            c.skip(results * 2)?;
        }
        b'D' | b'C' => {
            c.skip(1)?;
            c.cstr()?;
        }
        b'E' => {
            c.cstr()?;
            c.i32()?;
        }
        b'S' | b'H' | b'X' | b'c' => {}
        // Raw bytes: any content is well formed.
        b'd' | b'p' => c.0 = &[],
        _ => return Err("unknown message type"),
    }
    if !c.0.is_empty() {
        return Err("bytes left over after the last field");
    }
    Ok(())
}

/// Reads fields off a message body, failing instead of running past it.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn skip(&mut self, n: usize) -> Result<(), &'static str> {
        if n > self.0.len() {
            return Err("insufficient data left in message");
        }
        self.0 = &self.0[n..];
        Ok(())
    }

    fn i32(&mut self) -> Result<i32, &'static str> {
        let v = read_i32(self.0, 0).ok_or("insufficient data left in message")?;
        self.0 = &self.0[4..];
        Ok(v)
    }

    /// A non-negative i16 count.
    fn count(&mut self) -> Result<usize, &'static str> {
        let bytes = self.0.get(..2).ok_or("insufficient data left in message")?;
        let n = i16::from_be_bytes([bytes[0], bytes[1]]);
        self.0 = &self.0[2..];
        usize::try_from(n).map_err(|_| "negative count")
    }

    fn cstr(&mut self) -> Result<(), &'static str> {
        let end = self
            .0
            .iter()
            .position(|b| *b == 0)
            .ok_or("invalid string in message")?;
        self.0 = &self.0[end + 1..];
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(ty: u8, body: &[u8]) -> BytesMut {
        let mut v = vec![ty];
        v.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        v.extend_from_slice(body);
        BytesMut::from(&v[..])
    }

    #[test]
    fn a_complete_message_is_cut_out_alone() {
        let mut buf = typed(b'Q', b"SELECT 1\0");
        buf.extend_from_slice(&typed(b'S', b"")[..3]);
        let frame = next_frame(&mut buf, false).unwrap().unwrap();
        assert_eq!(&frame[..], &typed(b'Q', b"SELECT 1\0")[..]);
        // Half a Sync waits for more bytes.
        assert_eq!(next_frame(&mut buf, false).unwrap(), None);
        assert_eq!(buf.len(), 3);
    }

    #[test]
    fn lying_lengths_and_unknown_types_are_errors() {
        let mut buf = BytesMut::from(&[b'Q', 0, 0, 0, 1][..]);
        assert!(
            next_frame(&mut buf, false)
                .unwrap_err()
                .contains("invalid message length")
        );
        let mut buf = BytesMut::from(&[b'?', 0, 0, 0, 4][..]);
        assert!(
            next_frame(&mut buf, false)
                .unwrap_err()
                .contains("invalid frontend message type")
        );
        let mut buf = typed(b'Q', b"no terminator");
        assert!(next_frame(&mut buf, false).is_err());
        let mut buf = typed(b'S', b"x");
        assert!(
            next_frame(&mut buf, false)
                .unwrap_err()
                .contains("left over")
        );
    }

    #[test]
    fn parse_with_fewer_types_than_declared_is_rejected() {
        // The fuzzer's finding: two types declared, one present.
        let mut body = b"s1\0SELECT 1\0".to_vec();
        body.extend_from_slice(&2i16.to_be_bytes());
        body.extend_from_slice(&23u32.to_be_bytes());
        assert!(next_frame(&mut typed(b'P', &body), false).is_err());
        body.extend_from_slice(&23u32.to_be_bytes());
        assert!(
            next_frame(&mut typed(b'P', &body), false)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn bind_parameters_must_fit_their_message() {
        let mut body = b"\0\0".to_vec();
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&2i16.to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes()); // NULL
        body.extend_from_slice(&2i32.to_be_bytes());
        body.extend_from_slice(b"41");
        let mut ok = body.clone();
        ok.extend_from_slice(&0i16.to_be_bytes());
        assert!(next_frame(&mut typed(b'B', &ok), false).unwrap().is_some());
        // Parameter longer than the message.
        let mut long = b"\0\0".to_vec();
        long.extend_from_slice(&0i16.to_be_bytes());
        long.extend_from_slice(&1i16.to_be_bytes());
        long.extend_from_slice(&1_000_000i32.to_be_bytes());
        assert!(next_frame(&mut typed(b'B', &long), false).is_err());
        // Missing result-format count.
        assert!(next_frame(&mut typed(b'B', &body), false).is_err());
        // Negative length other than -1.
        let mut neg = b"\0\0".to_vec();
        neg.extend_from_slice(&0i16.to_be_bytes());
        neg.extend_from_slice(&1i16.to_be_bytes());
        neg.extend_from_slice(&(-2i32).to_be_bytes());
        neg.extend_from_slice(&0i16.to_be_bytes());
        assert!(next_frame(&mut typed(b'B', &neg), false).is_err());
    }

    #[test]
    fn short_fixed_fields_are_rejected() {
        assert!(next_frame(&mut typed(b'D', b""), false).is_err());
        assert!(next_frame(&mut typed(b'E', b"\0\0\0"), false).is_err());
        assert!(
            next_frame(&mut typed(b'E', b"\0\0\0\0\0"), false)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn startup_packets_are_bounded_and_terminated() {
        let mut v = 0i32.to_be_bytes().to_vec();
        v.extend_from_slice(&196608i32.to_be_bytes());
        v.extend_from_slice(b"user\0me\0\0");
        let len = v.len() as i32;
        v[..4].copy_from_slice(&len.to_be_bytes());
        assert!(
            next_frame(&mut BytesMut::from(&v[..]), true)
                .unwrap()
                .is_some()
        );
        // Without the final terminator.
        let mut bad = v[..v.len() - 1].to_vec();
        bad[..4].copy_from_slice(&(len - 1).to_be_bytes());
        assert!(next_frame(&mut BytesMut::from(&bad[..]), true).is_err());
        // Absurd length.
        let huge = [0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0];
        assert!(next_frame(&mut BytesMut::from(&huge[..]), true).is_err());
        // Incomplete: wait.
        assert_eq!(
            next_frame(&mut BytesMut::from(&v[..6]), true).unwrap(),
            None
        );
        // A cancel request of the right size.
        let mut cancel = 16i32.to_be_bytes().to_vec();
        cancel.extend_from_slice(&CANCEL_REQUEST_CODE.to_be_bytes());
        cancel.extend_from_slice(&[0; 8]);
        assert!(
            next_frame(&mut BytesMut::from(&cancel[..]), true)
                .unwrap()
                .is_some()
        );
    }
}
