//! Forecast: how fast revisions grow, and the month the counter runs out.
//!
//! Per OS build (and track) and per component, each dated package gives a point
//! (release date, highest counter — or revision under a plain rule — it carries); points
//! on the same date collapse to their maximum, so x86 and x64 packages of one release
//! count once. The growth rate is the Theil–Sen estimate (the median of the slopes of
//! all point pairs), which one odd package cannot drag, and the line through the median
//! intercept gives the month the measure reaches its limit.

use crate::ceilings::{CeilingRules, Scheme};
use crate::date::{Date, DAYS_PER_MONTH};
use crate::order::Ordered;
use kbscan_version::{OsBuild, Track, Version};
use serde::Serialize;
use std::collections::BTreeMap;

/// Projections further out than this are reported as beyond the horizon, not as a date.
const HORIZON_YEARS: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastScope {
    OsBuild,
    Component,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastStatus {
    /// A month is projected.
    Projected,
    /// The limit is already reached.
    Exhausted,
    /// The measure does not grow (median slope ≤ 0): no projection.
    NotGrowing,
    /// Fewer than two dates: no slope.
    TooFewPoints,
    /// The projection is more than a century away.
    BeyondHorizon,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForecastPoint {
    pub date: String,
    pub value: u16,
    pub version: Version,
    pub package: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Forecast {
    pub scope: ForecastScope,
    pub os_build: OsBuild,
    /// Component name (scope `component`), all architectures together.
    pub component: Option<String>,
    pub track: Option<Track>,
    /// `counter` (NT 6.x, 12 bits) or `revision` (plain rule).
    pub measure: String,
    /// The value the measure must not pass (4095, or the plain ceiling).
    pub limit: u16,
    pub points: u32,
    pub pairs: u32,
    pub first_date: String,
    pub last_date: String,
    pub last_value: u16,
    pub headroom: i32,
    /// Theil–Sen growth, per mean Gregorian month, rounded to 0.01.
    pub slope_per_month: Option<f64>,
    /// `yyyy-mm` the measure reaches `limit` on the fitted line.
    pub projected_month: Option<String>,
    /// Months from `last_date` to the projection, rounded to 0.1.
    pub months_after_last: Option<f64>,
    pub status: ForecastStatus,
    pub inputs: Vec<ForecastPoint>,
}

/// Theil–Sen fit of `y = a + b·x`: `(b, a, pairs)`; `None` with fewer than two
/// distinct x values.
pub fn theil_sen(points: &[(f64, f64)]) -> Option<(f64, f64, u32)> {
    let mut slopes = Vec::new();
    for (i, p) in points.iter().enumerate() {
        for q in &points[i + 1..] {
            if q.0 != p.0 {
                slopes.push((q.1 - p.1) / (q.0 - p.0));
            }
        }
    }
    let b = median(&mut slopes)?;
    let mut intercepts: Vec<f64> = points.iter().map(|(x, y)| y - b * x).collect();
    let a = median(&mut intercepts)?;
    Some((b, a, slopes.len() as u32))
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Rounds to `1/per_unit` (100 → two decimals). Dividing by the exact integer last gives
/// the double nearest the decimal, so JSON prints `19.99`, not `19.990000000000002`.
fn round_to(x: f64, per_unit: f64) -> f64 {
    (x * per_unit).round() / per_unit
}

type Key = (ForecastScope, OsBuild, Option<Track>, Option<String>);

struct Acc {
    measure: Scheme,
    limit: u16,
    /// Per date: the highest value and where it came from.
    points: BTreeMap<Date, ForecastPoint>,
}

pub(crate) fn forecasts(ordered: &Ordered<'_>, rules: &CeilingRules) -> Vec<Forecast> {
    let mut acc: BTreeMap<Key, Acc> = BTreeMap::new();
    for pkg in &ordered.dated {
        let Some(date) = pkg.date else { continue };
        let label = pkg.reference.label();
        for c in &pkg.p.components {
            let Some(v) = c.version else { continue };
            let m = rules.measure(v);
            let track = m.nt6.map(|n| n.track);
            let point = ForecastPoint {
                date: date.to_string(),
                value: m.value,
                version: v,
                package: label.clone(),
            };
            let name = c.name.to_ascii_lowercase();
            for key in [
                (ForecastScope::OsBuild, v.os_build(), track, None),
                (ForecastScope::Component, v.os_build(), track, Some(name)),
            ] {
                let a = acc.entry(key).or_insert_with(|| Acc {
                    measure: m.scheme,
                    limit: m.limit,
                    points: BTreeMap::new(),
                });
                match a.points.get(&date) {
                    Some(p) if p.value >= point.value => {}
                    _ => {
                        a.points.insert(date, point.clone());
                    }
                }
            }
        }
    }
    acc.into_iter().map(|(key, a)| fit(key, a)).collect()
}

fn fit((scope, os_build, track, component): Key, a: Acc) -> Forecast {
    let xy: Vec<(f64, f64)> = a
        .points
        .keys()
        .zip(a.points.values())
        .map(|(d, p)| (d.days() as f64, f64::from(p.value)))
        .collect();
    let first = a.points.keys().next().copied();
    let last = a.points.iter().next_back().map(|(d, p)| (*d, p.value));
    let (last_date, last_value) = last.unwrap_or((
        Date {
            year: 0,
            month: 1,
            day: 1,
        },
        0,
    ));
    let headroom = i32::from(a.limit) - i32::from(last_value);
    let limit = f64::from(a.limit);
    let fitted = theil_sen(&xy);
    let pairs = fitted.map_or(0, |f| f.2);
    let slope = fitted.map(|(b, _, _)| b);
    let (status, projected_day) = if headroom <= 0 {
        let hit = a
            .points
            .iter()
            .find(|(_, p)| p.value >= a.limit)
            .map(|(d, _)| d.days());
        (ForecastStatus::Exhausted, hit)
    } else {
        match fitted {
            None => (ForecastStatus::TooFewPoints, None),
            Some((b, _, _)) if b <= 0.0 => (ForecastStatus::NotGrowing, None),
            Some((b, a0, _)) => {
                // If the line already passed the limit while the data did not, the
                // honest statement is "now", not a date in the past.
                let x = ((limit - a0) / b).max(last_date.days() as f64);
                if x - last_date.days() as f64 > HORIZON_YEARS * 365.2425 {
                    (ForecastStatus::BeyondHorizon, None)
                } else {
                    (ForecastStatus::Projected, Some(x.floor() as i64))
                }
            }
        }
    };
    let projected = projected_day.and_then(Date::from_days);
    Forecast {
        scope,
        os_build,
        component,
        track,
        measure: match a.measure {
            Scheme::Nt6 => "counter".into(),
            Scheme::Plain => "revision".into(),
        },
        limit: a.limit,
        points: a.points.len() as u32,
        pairs,
        first_date: first.map(|d| d.to_string()).unwrap_or_default(),
        last_date: last_date.to_string(),
        last_value,
        headroom,
        slope_per_month: slope.map(|b| round_to(b * DAYS_PER_MONTH, 100.0)),
        projected_month: projected.map(Date::month_label),
        months_after_last: projected.map(|p| {
            round_to((p.days() - last_date.days()) as f64 / DAYS_PER_MONTH, 10.0).max(0.0)
        }),
        status,
        inputs: a.points.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theil_sen_ignores_one_outlier() {
        // y = 2x + 1 with one wild point: least squares would tilt, the median does not.
        let pts = [
            (0.0, 1.0),
            (1.0, 3.0),
            (2.0, 5.0),
            (3.0, 100.0),
            (4.0, 9.0),
            (5.0, 11.0),
        ];
        let (b, a, pairs) = theil_sen(&pts).expect("fit");
        assert_eq!(pairs, 15);
        assert!((b - 2.0).abs() < 1e-9, "{b}");
        assert!((a - 1.0).abs() < 1e-9, "{a}");
    }

    #[test]
    fn theil_sen_needs_two_x_values() {
        assert!(theil_sen(&[]).is_none());
        assert!(theil_sen(&[(1.0, 1.0)]).is_none());
        assert!(
            theil_sen(&[(1.0, 1.0), (1.0, 5.0)]).is_none(),
            "same date twice is no slope"
        );
        let (b, _, pairs) = theil_sen(&[(0.0, 0.0), (2.0, 4.0)]).expect("two points");
        assert_eq!((b, pairs), (2.0, 1));
    }

    #[test]
    fn even_median_averages() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
    }
}
