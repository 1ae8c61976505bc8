//! `uuid`: 16 bytes, read in the forms PostgreSQL's `uuid_in` accepts and
//! printed lower-case in the standard 8-4-4-4-12 form.
//!
//! Accepted: 32 hex digits in either case, optionally in braces, with a
//! hyphen allowed after any group of four digits
//! (`a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11`, `{A0EEBC99...}`,
//! `a0eebc999c0b4ef8bb6d6bb9bd380a11`, `a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11`).

use crate::error::{Error, Result, SqlState};

pub fn parse_uuid(text: &str) -> Result<[u8; 16]> {
    let bad = || {
        Error::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type uuid: \"{text}\""),
        )
    };
    let b = text.as_bytes();
    let mut i = 0;
    let braces = b.first() == Some(&b'{');
    if braces {
        i += 1;
    }
    let mut out = [0u8; 16];
    for (k, byte) in out.iter_mut().enumerate() {
        let hi = b
            .get(i)
            .and_then(|c| (*c as char).to_digit(16))
            .ok_or_else(bad)?;
        let lo = b
            .get(i + 1)
            .and_then(|c| (*c as char).to_digit(16))
            .ok_or_else(bad)?;
        *byte = (hi * 16 + lo) as u8;
        i += 2;
        if b.get(i) == Some(&b'-') && k % 2 == 1 && k < 15 {
            i += 1;
        }
    }
    if braces {
        if b.get(i) != Some(&b'}') {
            return Err(bad());
        }
        i += 1;
    }
    if i != b.len() {
        return Err(bad());
    }
    Ok(out)
}

pub fn uuid_to_text(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A version-4 (random) UUID, as `gen_random_uuid()` returns. Randomness
/// comes from the operating system (`/dev/urandom`), falling back to the
/// standard library's randomly keyed hasher.
pub fn random_uuid() -> [u8; 16] {
    let mut b = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok();
    if !from_os {
        use std::hash::{BuildHasher, Hasher};
        for chunk in b.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
        }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_postgres_input_form_reads_and_prints_lower_case() {
        let canon = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for input in [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
        ] {
            assert_eq!(uuid_to_text(&parse_uuid(input).unwrap()), canon, "{input}");
        }
        for bad in [
            "",
            "a0eebc99",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11x",
            "-a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "g0eebc999c0b4ef8bb6d6bb9bd380a11",
        ] {
            let e = parse_uuid(bad).unwrap_err();
            assert_eq!(e.sqlstate, SqlState::INVALID_TEXT_REPRESENTATION, "{bad}");
        }
        let r = random_uuid();
        assert_eq!(r[6] >> 4, 4);
        assert_eq!(r[8] >> 6, 2);
        assert_ne!(random_uuid(), r);
    }
}
