//! Timestamps: RFC 3339 in UTC everywhere, with a fixed number of
//! fractional digits, so they sort as strings.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// `at` as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`. Every audit record carries
/// one, so the date part is formatted once a second per thread and only
/// the nanoseconds each call.
pub fn rfc3339(at: SystemTime) -> String {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, nanos) = (since.as_secs(), since.subsec_nanos());
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != secs {
            let t = time::OffsetDateTime::from_unix_timestamp(secs as i64)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            cached.1 = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            cached.0 = secs;
        }
        let mut out = String::with_capacity(cached.1.len() + 11);
        out.push_str(&cached.1);
        out.push('.');
        let mut scale = 100_000_000;
        while scale > 0 {
            out.push(char::from(b'0' + (nanos / scale % 10) as u8));
            scale /= 10;
        }
        out.push('Z');
        out
    })
}

/// RFC 3339 in UTC with exactly three fractional digits, the shape of
/// JavaScript's `toISOString()`: timestamps compared as strings with a
/// registry's must have the same shape.
pub fn now_rfc3339_millis() -> String {
    let mut stamp = now_rfc3339();
    stamp.truncate("YYYY-MM-DDTHH:MM:SS.mmm".len());
    stamp.push('Z');
    stamp
}

#[cfg(test)]
mod tests {
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn timestamps_are_rfc3339_fixed_width_and_current() {
        let before = time::OffsetDateTime::now_utc();
        let stamp = super::now_rfc3339();
        let parsed = time::OffsetDateTime::parse(&stamp, &Rfc3339).unwrap();
        assert_eq!(
            stamp.len(),
            "2026-11-25T00:00:00.000000000Z".len(),
            "{stamp}"
        );
        assert!(parsed >= before - time::Duration::seconds(1), "{stamp}");
        assert!(parsed <= time::OffsetDateTime::now_utc(), "{stamp}");
        assert!(super::now_rfc3339() >= stamp, "sorts as a string");
        let millis = super::now_rfc3339_millis();
        assert_eq!(millis.len(), "2026-11-25T00:00:00.000Z".len(), "{millis}");
        assert!(millis.ends_with('Z') && time::OffsetDateTime::parse(&millis, &Rfc3339).is_ok());
    }
}
