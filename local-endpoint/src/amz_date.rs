//! X-Amz-Date (`YYYYMMDDTHHMMSSZ`) parsing and formatting, with the `time`
//! crate that aws-sigv4 already links (the host has no size budget, so no
//! calendar arithmetic of our own here).

use std::time::SystemTime;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Parses `YYYYMMDDTHHMMSSZ` (the only form SigV4 allows in X-Amz-Date).
pub(super) fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u16> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let month = Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let date = Date::from_calendar_date(i32::from(num(0..4)?), month, u8::try_from(num(6..8)?).ok()?).ok()?;
    let [h, mi, sec] = [num(9..11)?, num(11..13)?, num(13..15)?].map(|n| u8::try_from(n).unwrap_or(u8::MAX));
    let time = Time::from_hms(h, mi, sec).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc().into())
}

/// Formats a time as `YYYYMMDDTHHMMSSZ` (for error messages).
pub(super) fn format_amz_date(t: SystemTime) -> String {
    let t = OffsetDateTime::from(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn amz_date_round_trips() {
        let t = parse_amz_date("20261125T123456Z").unwrap();
        assert_eq!(format_amz_date(t), "20261125T123456Z");
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 1_795_610_096);
        assert!(parse_amz_date("2026-11-25T12:34:56Z").is_none());
        assert!(parse_amz_date("20261325T123456Z").is_none());
        assert!(parse_amz_date("20260231T000000Z").is_none(), "no 31 February");
    }
}
