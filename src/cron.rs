//! SPEC 5 `cron`: five fields (minute hour day-of-month month day-of-week)
//! with `* , - /`, evaluated in a fixed UTC offset (`cron_utc_offset`, UTC
//! by default: WASI gives no time zone).
//!
//! Parsing and matching are the `croner` crate's, with POSIX semantics:
//! Sunday is 0 or 7, and when both day-of-month and day-of-week are
//! restricted a day matching either runs. croner is used without a date
//! library: `At` hands it plain seconds, which keeps ~7.5 KB of `chrono`
//! out of the component. Here: the five-field and character rules croner
//! leaves open (it also takes seconds, names, `L`, `W`, `#`, `?`), errors
//! that name the field, and the next matching minute after an instant.

use crate::civil::{civil_from_days, days_from_civil};
use croner::Cron;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use croner::time::{CivilDate, CivilDateTime, CivilTime, CronDateTime, Resolution, Weekday};
use std::cmp::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The five fields, as errors name them, with what each allows.
const FIELDS: [(&str, &str); 5] = [
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12"),
    ("day-of-week", "0-7, Sunday is 0 and 7"),
];

/// A parsed `cron` expression and the UTC offset it is read in.
#[derive(Clone)]
pub struct CronSchedule {
    expression: String,
    cron: Cron,
    /// Seconds east of UTC: local time = UTC + offset.
    offset: i64,
}

impl CronSchedule {
    /// Parses a five-field expression read at `offset_minutes` east of UTC.
    /// The error says which field is wrong and why.
    ///
    /// ```
    /// use kinesis_target::cron::CronSchedule;
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let every5 = CronSchedule::parse("*/5 * * * *", 0).unwrap();
    /// let at = UNIX_EPOCH + Duration::from_secs(61);
    /// assert_eq!(every5.next_after(at), Some(UNIX_EPOCH + Duration::from_secs(300)));
    /// assert!(CronSchedule::parse("60 * * * *", 0).unwrap_err().contains("minute"));
    /// ```
    pub fn parse(expression: &str, offset_minutes: i32) -> Result<Self, String> {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "must be five fields \"minute hour day-of-month month day-of-week\", got {} in {expression:?}",
                fields.len()
            ));
        }
        for (field, (name, _)) in fields.iter().zip(FIELDS) {
            if !field.bytes().all(|b| b.is_ascii_digit() || b"*,-/".contains(&b)) {
                return Err(format!("{name} field {field:?}: only digits and * , - / are allowed"));
            }
            // croner takes `,`, `1,` and `1,,2`, and `,` alone is an empty
            // set: the search for a match then runs minute by minute to the
            // year 5000 (seconds of CPU) before it gives up.
            if field.split(',').any(str::is_empty) {
                return Err(format!("{name} field {field:?}: a list has an empty item"));
            }
        }
        let normalized = fields.join(" ");
        let cron = parser().parse(&normalized).map_err(|e| field_error(&fields, e))?;
        let schedule = Self {
            expression: normalized,
            cron,
            offset: i64::from(offset_minutes) * 60,
        };
        // Day 31 of February and the like parse, and never come.
        if schedule.next_local(0).is_none() {
            return Err(format!("{expression:?} never matches a date"));
        }
        Ok(schedule)
    }

    /// The expression, fields separated by one space.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first matching minute strictly after `after`, or `None` past the
    /// year 5000 (croner's search limit).
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        // A wall clock before 1970 is taken as 1970.
        let secs = i64::try_from(after.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())).ok()?;
        let local = self.next_local(secs.checked_add(self.offset)?)?;
        let utc = u64::try_from(local - self.offset).ok()?;
        Some(UNIX_EPOCH + Duration::from_secs(utc))
    }

    /// The first matching minute strictly after local second `local`.
    fn next_local(&self, local: i64) -> Option<i64> {
        let start = local.div_euclid(60).checked_add(1)? * 60;
        self.cron.find_next_occurrence(&At(start), true).ok().map(|at| at.0)
    }
}

// croner's own `Debug` prints every bit of every field.
impl std::fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronSchedule")
            .field("expression", &self.expression)
            .field("offset_minutes", &(self.offset / 60))
            .finish()
    }
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}

/// croner's errors do not say which field: each field is tried alone (the
/// others `*`) to find the first one croner refuses.
fn field_error(fields: &[&str], error: CronError) -> String {
    for (i, (name, range)) in FIELDS.iter().enumerate() {
        let mut alone = ["*"; 5];
        alone[i] = fields[i];
        if let Err(CronError::ComponentError(why) | CronError::InvalidPattern(why)) = parser().parse(&alone.join(" ")) {
            let mut why = why.trim_end_matches('.').to_string();
            // Lowercase the first letter in place: collecting chars into a
            // String links ~1 KB for this one message.
            if let Some(first) = why.get_mut(..1) {
                first.make_ascii_lowercase();
            }
            return format!("{name} field {:?}: {why} ({name} is {range})", fields[i]);
        }
    }
    error.to_string()
}

/// A local wall-clock time as seconds since 1970-01-01T00:00 (no zone: the
/// offset is applied outside), the one `CronDateTime` croner needs.
#[derive(Debug, Clone, Copy)]
struct At(i64);

impl CronDateTime for At {
    fn to_civil(&self) -> CivilDateTime {
        let (year, month, day) = civil_from_days(self.0.div_euclid(86_400));
        let s = self.0.rem_euclid(86_400) as u32;
        CivilDateTime::new(
            CivilDate::from_parts_unchecked(year, month, day),
            CivilTime::from_parts_unchecked(s / 3600, s / 60 % 60, s % 60),
        )
    }

    fn civil_weekday(&self) -> Weekday {
        // 1970-01-01 was a Thursday (4 days after a Sunday).
        Weekday::from_days_from_sunday((self.0.div_euclid(86_400) + 4).rem_euclid(7) as u32)
    }

    fn resolve_civil(&self, c: CivilDateTime) -> Result<Resolution<Self>, CronError> {
        let days = days_from_civil(c.year(), c.month(), c.day());
        let secs = i64::from(c.hour() * 3600 + c.minute() * 60 + c.second());
        Ok(Resolution::Single(At(days * 86_400 + secs)))
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0.checked_add(seconds).map(At)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

#[cfg(test)]
mod tests;
