//! Calendar time in UTC, as records and image configs write it, without a date crate: the
//! times are all from 1970 on, for which the arithmetic is short.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as seconds since the Unix epoch.
pub fn unix_seconds() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

/// A time's calendar date and time of day in UTC.
pub struct Utc {
    pub year: u64,
    pub month: u64,
    pub day: u64,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
    pub micros: u32,
}

impl Utc {
    /// Times before 1970 are taken as 1970.
    pub fn of(at: SystemTime) -> Utc {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let (days, rest) = (since.as_secs() / 86_400, since.as_secs() % 86_400);
        // Howard Hinnant's civil_from_days, for days from 1970 on.
        let z = days + 719_468;
        let (era, doe) = (z / 146_097, z % 146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Utc {
            year: yoe + era * 400 + u64::from(month <= 2),
            month,
            day: doy - (153 * mp + 2) / 5 + 1,
            hour: rest / 3600,
            minute: rest % 3600 / 60,
            second: rest % 60,
            micros: since.subsec_micros(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn dates_come_out_right_across_leap_years_and_centuries() {
        let date = |seconds: u64| {
            let t = Utc::of(UNIX_EPOCH + Duration::from_secs(seconds));
            (t.year, t.month, t.day, t.hour, t.minute, t.second)
        };
        assert_eq!(date(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(date(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(date(4_102_444_799), (2099, 12, 31, 23, 59, 59));
        assert_eq!(Utc::of(UNIX_EPOCH - Duration::from_secs(5)).year, 1970, "before 1970 is 1970");
    }
}
