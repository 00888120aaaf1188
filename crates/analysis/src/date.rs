//! Calendar dates as the scan model writes them (`yyyy-mm-dd`), and day arithmetic.
//!
//! Ordering and forecasts only ever need whole days in the proleptic Gregorian calendar,
//! so a tiny exact implementation is enough; no clock is ever read (reports must not
//! depend on when they were made).

use std::fmt;

/// A calendar date; the derived order is chronological because of the field order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

/// Mean Gregorian month (365.2425 / 12 days): forecasts speak in months.
pub const DAYS_PER_MONTH: f64 = 30.436_875;

impl Date {
    /// Strict `yyyy-mm-dd` with a real month and a day that exists in that month:
    /// the scanner only checks the shape, and `2019-02-30` must not order anything.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = s.get(r)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let year = i32::try_from(num(0..4)?).ok()?;
        let month = u8::try_from(num(5..7)?).ok()?;
        let day = u8::try_from(num(8..10)?).ok()?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (negative before). Exact for every representable date.
    pub fn days(self) -> i64 {
        // Shift the year to start in March so the leap day is the last day of the year.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The inverse of [`Date::days`]. `None` outside years 0..=9999, which is as far as
    /// a `yyyy` field (and a sensible forecast) reaches.
    pub fn from_days(days: i64) -> Option<Date> {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        if !(0..=9999).contains(&year) {
            return None;
        }
        Some(Date {
            year: i32::try_from(year).ok()?,
            month: u8::try_from(month).ok()?,
            day: u8::try_from(day).ok()?,
        })
    }

    /// `yyyy-mm`: the resolution a forecast can honestly claim.
    pub fn month_label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_strict() {
        assert_eq!(
            Date::parse("2019-03-14"),
            Some(Date {
                year: 2019,
                month: 3,
                day: 14
            })
        );
        for bad in [
            "2019-3-14",
            "2019-02-29",
            "2019-13-01",
            "2019-00-10",
            "2019-04-31",
            "20190314",
            "2019-03-1x",
            "",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad:?}");
        }
        assert!(Date::parse("2020-02-29").is_some(), "leap year");
        assert!(
            Date::parse("1900-02-29").is_none(),
            "1900 was not a leap year"
        );
        assert!(Date::parse("2000-02-29").is_some(), "2000 was");
    }

    #[test]
    fn day_numbers_round_trip() {
        assert_eq!(Date::parse("1970-01-01").map(Date::days), Some(0));
        assert_eq!(Date::parse("2019-03-14").map(Date::days), Some(17_969));
        let a = Date::parse("2018-11-30")
            .map(Date::days)
            .unwrap_or_default();
        let b = Date::parse("2019-03-01")
            .map(Date::days)
            .unwrap_or_default();
        assert_eq!(b - a, 91);
        for d in [-719_468, -1, 0, 59, 60, 17_969, 2_932_896] {
            let date = Date::from_days(d).expect("in range");
            assert_eq!(date.days(), d, "{date}");
        }
        assert_eq!(Date::from_days(2_932_897), None, "year 10000");
    }
}
