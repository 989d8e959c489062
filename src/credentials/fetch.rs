//! What a credential provider's answer means: retryable statuses, expiry
//! times, failures. The exchange itself is [`crate::send::exchange_blocking`].

use crate::civil::{civil_from_days, days_from_civil};
use crate::report::Failure;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Worth asking again soon: the provider was unreachable, busy or failing.
pub(super) fn retryable_status(status: u16) -> bool {
    status >= 500 || status == 429
}

/// A failure of the provider named by `code`.
pub(super) fn failure(code: &str, message: String, retryable: bool) -> Failure {
    Failure::target(code, message, retryable)
}

/// Refuses credentials that expired before they could be used.
pub(super) fn check_expiry(
    expires: Option<SystemTime>,
    now: SystemTime,
    code: &str,
    from: &str,
) -> Result<(), Failure> {
    match expires {
        Some(at) if at <= now => Err(failure(
            code,
            format!("{from} handed out credentials that expired at {}", iso8601(at)),
            true,
        )),
        _ => Ok(()),
    }
}

/// Parses the RFC 3339 UTC times providers write (`2026-11-26T02:00:00Z`,
/// fractions allowed). Written out here: `aws-smithy-types`' parser pulls in
/// the `time` crate, about 13 KB of component for this one field.
pub(super) fn parse_time(text: &str) -> Option<SystemTime> {
    let b = text.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let digits = b.get(r)?;
        digits
            .iter()
            .try_fold(0u64, |n, d| d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0')))
    };
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if b.len() < 20 || !seps.iter().all(|&(i, c)| b[i] == c) || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|d| d.is_ascii_digit()).count();
        rest = &rest[1 + digits..];
    }
    if !matches!(rest, b"Z" | b"z" | b"+00:00") || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 || year < 1970 {
        return None;
    }
    let days = days_from_civil(year as i32, month as u32, day as u32);
    let secs = days as u64 * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// `time` as RFC 3339 UTC to the second, for messages.
pub(crate) fn iso8601(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_times_parse_and_print_as_rfc3339_utc() {
        let t = parse_time("2026-11-25T12:00:00Z").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1_795_608_000));
        assert_eq!(iso8601(t), "2026-11-25T12:00:00Z");
        assert_eq!(
            parse_time("2024-02-29T23:59:59.123Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_709_251_199))
        );
        assert_eq!(
            iso8601(UNIX_EPOCH + Duration::from_secs(1_709_251_199)),
            "2024-02-29T23:59:59Z"
        );
        assert_eq!(
            parse_time("2000-03-01T00:00:00+00:00"),
            Some(UNIX_EPOCH + Duration::from_secs(951_868_800))
        );
        for bad in [
            "",
            "2026-11-25",
            "2026-13-01T00:00:00Z",
            "2026-11-25T12:00:00+02:00",
            "2026-11-25T25:00:00Z",
            "x026-11-25T12:00:00Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }
}
