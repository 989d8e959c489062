use super::*;
use crate::civil::{civil_from_days, days_from_civil};

/// 2026-11-25T12:00:00Z, a Wednesday.
const WED_NOON: u64 = 1_795_608_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The next `n` runs after `from`, as seconds after `from`.
fn runs(expr: &str, offset_minutes: i32, from: u64, n: usize) -> Vec<u64> {
    let schedule = CronSchedule::parse(expr, offset_minutes).unwrap();
    let mut t = at(from);
    (0..n)
        .map(|_| {
            t = schedule.next_after(t).unwrap();
            t.duration_since(at(from)).unwrap().as_secs()
        })
        .collect()
}

const MIN: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;

#[test]
fn every_five_minutes_runs_on_the_fives() {
    assert_eq!(runs("*/5 * * * *", 0, WED_NOON, 3), [5 * MIN, 10 * MIN, 15 * MIN]);
    // From 12:03:59.5 the next is 12:05; from 12:05:00 exactly it is 12:10.
    let s = CronSchedule::parse("*/5 * * * *", 0).unwrap();
    let just_before = at(WED_NOON + 3 * MIN + 59) + Duration::from_millis(500);
    assert_eq!(s.next_after(just_before), Some(at(WED_NOON + 5 * MIN)));
    assert_eq!(s.next_after(at(WED_NOON + 5 * MIN)), Some(at(WED_NOON + 10 * MIN)));
}

#[test]
fn lists_ranges_and_steps() {
    assert_eq!(runs("0,30 * * * *", 0, WED_NOON, 3), [30 * MIN, HOUR, HOUR + 30 * MIN]);
    assert_eq!(runs("0 9-11 * * *", 0, WED_NOON, 2), [21 * HOUR, 22 * HOUR]);
    assert_eq!(runs("10-50/20 * * * *", 0, WED_NOON, 3), [10 * MIN, 30 * MIN, 50 * MIN]);
}

#[test]
fn sunday_is_both_zero_and_seven() {
    // Wednesday noon to Sunday midnight: 3.5 days.
    let sunday = 3 * DAY + 12 * HOUR;
    assert_eq!(runs("0 0 * * 0", 0, WED_NOON, 2), [sunday, sunday + 7 * DAY]);
    assert_eq!(runs("0 0 * * 7", 0, WED_NOON, 2), [sunday, sunday + 7 * DAY]);
    // Friday to Sunday through 7.
    assert_eq!(
        runs("0 0 * * 5-7", 0, WED_NOON, 3),
        [sunday - 2 * DAY, sunday - DAY, sunday]
    );
}

#[test]
fn day_of_month_and_day_of_week_both_restricted_match_either() {
    // "the 13th, or any Friday": Fri 27 Nov, Fri 4 Dec, Fri 11 Dec, Sun 13 Dec.
    let friday = DAY + 12 * HOUR;
    assert_eq!(
        runs("0 0 13 * 5", 0, WED_NOON, 4),
        [friday, friday + 7 * DAY, friday + 14 * DAY, friday + 16 * DAY]
    );
    // Either one alone restricts.
    assert_eq!(runs("0 0 13 * *", 0, WED_NOON, 1), [friday + 16 * DAY]);
    assert_eq!(runs("0 0 * * 5", 0, WED_NOON, 2), [friday, friday + 7 * DAY]);
}

#[test]
fn months_and_leap_days() {
    // 29 February: 2028 is the next leap year.
    let s = CronSchedule::parse("30 2 29 2 *", 0).unwrap();
    let next = s.next_after(at(WED_NOON)).unwrap();
    let days = next.duration_since(UNIX_EPOCH).unwrap().as_secs() / DAY;
    assert_eq!(civil_from_days(days as i64), (2028, 2, 29));
}

#[test]
fn the_utc_offset_moves_the_run() {
    // 09:00 at +02:00 is 07:00 UTC: 19 h after Wednesday noon UTC.
    assert_eq!(runs("0 9 * * *", 120, WED_NOON, 1), [19 * HOUR]);
    assert_eq!(runs("0 9 * * *", 0, WED_NOON, 1), [21 * HOUR]);
    // 09:00 at -05:30 is 14:30 UTC, still today.
    assert_eq!(runs("0 9 * * *", -330, WED_NOON, 1), [2 * HOUR + 30 * MIN]);
    // The local day decides the weekday: Thursday 01:00 at +14:00 is Wednesday 11:00 UTC.
    assert_eq!(runs("0 1 * * 4", 14 * 60, WED_NOON - 2 * HOUR, 1), [HOUR]);
}

fn error(expr: &str) -> String {
    CronSchedule::parse(expr, 0).unwrap_err()
}

#[test]
fn errors_name_the_field_and_the_rule() {
    assert_eq!(
        error("* * * *"),
        r#"must be five fields "minute hour day-of-month month day-of-week", got 4 in "* * * *""#
    );
    assert!(error("0 * * * * *").contains("got 6"));
    assert!(error("").contains("got 0"));
    assert_eq!(
        error("0 0 * * MON"),
        r#"day-of-week field "MON": only digits and * , - / are allowed"#
    );
    assert!(error("@daily").contains("got 1"), "no nicknames");
    for expr in ["0 0 L * *", "0 0 ? * *", "0 0 * * 1#2", "0 0 15W * *"] {
        assert!(error(expr).contains("only digits"), "{expr}: {}", error(expr));
    }
    assert_eq!(
        error("60 * * * *"),
        r#"minute field "60": number out of bounds (minute is 0-59)"#
    );
    assert!(error("0 24 * * *").starts_with(r#"hour field "24""#));
    assert!(error("0 0 0 * *").contains("(day-of-month is 1-31)"));
    assert!(error("0 0 32 * *").starts_with(r#"day-of-month field "32""#));
    assert!(error("0 0 * 13 *").contains("(month is 1-12)"));
    assert!(error("0 0 * 0 *").starts_with(r#"month field "0""#));
    assert!(error("0 0 * * 8").contains("(day-of-week is 0-7, Sunday is 0 and 7)"));
    assert!(error("5-1 * * * *").starts_with(r#"minute field "5-1": range"#));
    assert!(error("*/0 * * * *").contains("step cannot be zero"));
    assert!(error("0/10 * * * *").starts_with(r#"minute field "0/10""#));
    assert!(error("1-2-3 * * * *").starts_with(r#"minute field "1-2-3""#));
    assert!(error("99999999999 * * * *").starts_with("minute field"));
    assert_eq!(error("0 0 31 2 *"), r#""0 0 31 2 *" never matches a date"#);
    assert!(error("0 0 31 2,4,6 *").contains("never matches"));
}

#[test]
fn spacing_is_free_and_the_expression_is_kept_normalized() {
    let s = CronSchedule::parse("  */5\t*  * * *  ", 0).unwrap();
    assert_eq!(s.expression(), "*/5 * * * *");
}

#[test]
fn calendar_conversion_round_trips_over_five_millennia() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(days_from_civil(2026, 11, 25), 20_782);
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
    assert_eq!(At(0).civil_weekday(), Weekday::Thursday);
    assert_eq!(At(WED_NOON as i64).civil_weekday(), Weekday::Wednesday);
    // Every day from 0001-01-01 to 5000-12-31 follows the one before.
    let (mut y, mut m, mut d) = (1, 1, 1);
    for days in days_from_civil(1, 1, 1)..=days_from_civil(5000, 12, 31) {
        assert_eq!(civil_from_days(days), (y, m, d));
        assert_eq!(days_from_civil(y, m, d), days);
        d += 1;
        if d > croner::time::days_in_month(y, m) {
            (m, d) = (m + 1, 1);
            if m > 12 {
                (y, m) = (y + 1, 1);
            }
        }
    }
}

#[test]
fn civil_time_of_day_and_back() {
    let t = At(WED_NOON as i64 + 3 * 3600 + 25 * 60 + 7);
    let civil = t.to_civil();
    assert_eq!(
        (
            civil.year(),
            civil.month(),
            civil.day(),
            civil.hour(),
            civil.minute(),
            civil.second()
        ),
        (2026, 11, 25, 15, 25, 7)
    );
    let Ok(Resolution::Single(back)) = t.resolve_civil(civil) else {
        panic!("a fixed offset has no gaps")
    };
    assert_eq!(back.0, t.0);
}

#[test]
fn a_list_with_an_empty_item_is_refused_at_once() {
    // Found by the config fuzzer: `,` alone was an empty set that croner
    // searched for to the year 5000 (seconds of CPU in `configure`).
    for (expr, field) in [
        (", * 9 * 1-4", "minute"),
        ("1, * * * *", "minute"),
        ("* ,2 * * *", "hour"),
        ("0 0 1,,2 * *", "day-of-month"),
        ("0 0 * , *", "month"),
        ("0 0 * * ,", "day-of-week"),
    ] {
        let err = CronSchedule::parse(expr, 121).unwrap_err();
        assert!(err.starts_with(field) && err.contains("empty item"), "{expr}: {err}");
    }
    assert!(CronSchedule::parse("1,2 * * * 0,6", 0).is_ok());
}
