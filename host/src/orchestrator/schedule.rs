//! `schedule = "0 3 * * 1"` with `schedule_window = "3h"`: when cadence
//! rotations may start, as AWS Secrets Manager (ScheduleExpression +
//! Duration) and Vault (rotation_schedule + rotation_window) put it. A
//! window opens at each time the five-field cron expression (UTC) names
//! and stays open for the window's length.
//!
//! The matcher is our own: Rust's cron crates work on chrono, the host on
//! `time`, and five fields of numbers, `*`, ranges, lists and steps are a
//! small, fully tested thing.

use time::{Duration, OffsetDateTime};

/// A parsed schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// As written.
    pub expression: String,
    pub window: Duration,
    fields: [Vec<bool>; 5],
}

/// (name, least, greatest) of each field, in order.
const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];

/// How far ahead a window is looked for: a schedule such as `0 0 29 2 *`
/// opens only in leap years.
const HORIZON_DAYS: i64 = 4 * 366 + 1;

fn parse_field(text: &str, (name, least, greatest): (&str, u32, u32)) -> Result<Vec<bool>, String> {
    let mut allowed = vec![false; greatest as usize + 1];
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{name} step `{step}` is not a positive number"))?,
            ),
            None => (part, 1),
        };
        let number = |s: &str| {
            s.parse::<u32>()
                .ok()
                .filter(|n| (least..=greatest).contains(n))
                .ok_or_else(|| format!("{name} `{s}` is not a number from {least} to {greatest}"))
        };
        let (from, to) = match range {
            "*" => (least, greatest),
            _ => match range.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if step > 1 => (number(range)?, greatest),
                None => {
                    let n = number(range)?;
                    (n, n)
                }
            },
        };
        if from > to {
            return Err(format!("{name} range `{range}` runs backwards"));
        }
        for n in (from..=to).step_by(step as usize) {
            allowed[n as usize] = true;
        }
    }
    Ok(allowed)
}

/// `"3h"`, `"90m"`, `"1d"`.
fn parse_window(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = number.parse().ok().filter(|n| *n > 0)?;
    match unit {
        "m" => Some(Duration::minutes(n)),
        "h" => Some(Duration::hours(n)),
        "d" => Some(Duration::days(n)),
        _ => None,
    }
}

impl Schedule {
    /// The error says what is wrong; the caller adds where and the fix.
    pub fn parse(expression: &str, window: &str) -> Result<Schedule, String> {
        let parts: Vec<&str> = expression.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "schedule `{expression}` has {} fields; a cron expression has five (minute hour day-of-month month day-of-week, UTC)",
                parts.len()
            ));
        }
        let mut fields: [Vec<bool>; 5] = Default::default();
        for (i, part) in parts.iter().enumerate() {
            fields[i] = parse_field(part, FIELDS[i])
                .map_err(|e| format!("schedule `{expression}`: {e}"))?;
        }
        // Sunday is 0 and 7.
        if fields[4][7] {
            fields[4][0] = true;
        }
        let window = parse_window(window).ok_or_else(|| {
            format!("schedule_window `{window}` is not a length such as \"90m\", \"3h\" or \"1d\"")
        })?;
        Ok(Schedule {
            expression: expression.to_string(),
            window,
            fields,
        })
    }

    fn day_matches(&self, t: OffsetDateTime) -> bool {
        let dom = self.fields[2][t.day() as usize];
        let dow = self.fields[4][t.weekday().number_days_from_sunday() as usize];
        let month = self.fields[3][u8::from(t.month()) as usize];
        // As cron has it: with both day fields restricted, either may match.
        let dom_any = self.fields[2][1..=31].iter().all(|b| *b);
        let dow_any = self.fields[4][0..=6].iter().all(|b| *b);
        month
            && match (dom_any, dow_any) {
                (true, true) => true,
                (true, false) => dow,
                (false, true) => dom,
                (false, false) => dom || dow,
            }
    }

    /// The first time at or after `t` (to the minute) the expression names.
    pub fn next_start(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        let mut at = t.replace_second(0).ok()?.replace_nanosecond(0).ok()?;
        if at < t {
            at += Duration::minutes(1);
        }
        let limit = t + Duration::days(HORIZON_DAYS);
        while at < limit {
            if !self.day_matches(at) {
                at = (at + Duration::days(1)).replace_time(time::Time::MIDNIGHT);
            } else if !self.fields[1][at.hour() as usize] {
                at = (at + Duration::hours(1)).replace_minute(0).ok()?;
            } else if !self.fields[0][at.minute() as usize] {
                at += Duration::minutes(1);
            } else {
                return Some(at);
            }
        }
        None
    }

    /// The window that is open at `t`, as (opened, closes).
    pub fn open_at(&self, t: OffsetDateTime) -> Option<(OffsetDateTime, OffsetDateTime)> {
        let start = self.next_start(t - self.window + Duration::seconds(1))?;
        (start <= t).then(|| (start, start + self.window))
    }

    /// When a cadence change planned at `now` (RFC 3339) to start at
    /// `planned` (the Planner's `not_before`, or now) may start: as planned
    /// if a window is open then, else when the next one opens.
    pub fn start_for(&self, now: &str, planned: Option<&str>) -> Result<Option<String>, String> {
        use time::format_description::well_known::Rfc3339;
        let text = planned.unwrap_or(now);
        let start = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| format!("{text:?} is not RFC 3339: {e}"))?;
        if self.open_at(start).is_some() {
            return Ok(planned.map(str::to_string));
        }
        let (opens, _) = self.window_from(start).ok_or_else(|| {
            format!(
                "the schedule `{}` names no time in the next {HORIZON_DAYS} days",
                self.expression
            )
        })?;
        Ok(Some(opens.format(&Rfc3339).map_err(|e| e.to_string())?))
    }

    /// The window open at `t`, or else the next one.
    pub fn window_from(&self, t: OffsetDateTime) -> Option<(OffsetDateTime, OffsetDateTime)> {
        self.open_at(t)
            .or_else(|| self.next_start(t).map(|s| (s, s + self.window)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    #[test]
    fn weekly_windows_open_and_close_on_time() {
        // Mondays 03:00 UTC for three hours; 2026-11-30 is a Monday.
        let s = Schedule::parse("0 3 * * 1", "3h").unwrap();
        let next = s.next_start(at("2026-11-25T10:00:00Z")).unwrap();
        assert_eq!(next, at("2026-11-30T03:00:00Z"));
        assert_eq!(
            s.open_at(at("2026-11-30T05:59:00Z")),
            Some((at("2026-11-30T03:00:00Z"), at("2026-11-30T06:00:00Z")))
        );
        assert_eq!(s.open_at(at("2026-11-30T06:00:00Z")), None);
        assert_eq!(s.open_at(at("2026-11-30T02:59:59Z")), None);
        assert_eq!(
            s.window_from(at("2026-11-30T07:00:00Z")).unwrap().0,
            at("2026-12-07T03:00:00Z")
        );
    }

    #[test]
    fn ranges_lists_steps_and_either_day_field() {
        let s = Schedule::parse("*/15 1-2 1,15 * 5", "30m").unwrap();
        // The 15th (a Tuesday) or any Friday, 01:00–02:45 every 15 minutes.
        assert_eq!(
            s.next_start(at("2026-12-14T23:00:00Z")).unwrap(),
            at("2026-12-15T01:00:00Z")
        );
        assert_eq!(
            s.next_start(at("2026-12-15T01:01:00Z")).unwrap(),
            at("2026-12-15T01:15:00Z")
        );
        assert_eq!(
            s.next_start(at("2026-12-15T03:00:00Z")).unwrap(),
            at("2026-12-18T01:00:00Z"),
            "the next Friday"
        );
        let leap = Schedule::parse("0 0 29 2 *", "1d").unwrap();
        assert_eq!(
            leap.next_start(at("2026-03-01T00:00:00Z")).unwrap(),
            at("2028-02-29T00:00:00Z")
        );
        let sunday = Schedule::parse("0 4 * * 7", "1h").unwrap();
        assert_eq!(
            sunday.next_start(at("2026-12-01T00:00:00Z")).unwrap(),
            at("2026-12-06T04:00:00Z")
        );
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (expression, window, says) in [
            ("0 3 * *", "3h", "has 4 fields"),
            ("0 24 * * 1", "3h", "hour `24` is not a number from 0 to 23"),
            ("0 5-3 * * 1", "3h", "runs backwards"),
            ("*/0 3 * * 1", "3h", "step `0`"),
            ("0 3 * * 1", "3 hours", "schedule_window `3 hours`"),
        ] {
            let err = Schedule::parse(expression, window).unwrap_err();
            assert!(err.contains(says), "{expression}: {err}");
        }
    }
}
