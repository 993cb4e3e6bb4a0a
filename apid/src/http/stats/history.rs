//! `?hours=&limit=` of the history routes, validated here so that nothing unchecked reaches a
//! store query.

use serde::Deserialize;

use crate::http::error::{ApiError, ApiResult};

/// `hours` when absent.
pub const DEFAULT_HISTORY_HOURS: u32 = 1;
/// `limit` when absent.
pub const DEFAULT_HISTORY_LIMIT: u32 = 60;
/// Largest `hours`. Twoine allowed 24; the 7-day chart of the panels needs 168, which the
/// roll-ups cover (raw samples are kept `retentionHours`, at most 168, and the store serves
/// older spans from its 5-minute and hourly roll-ups).
pub const MAX_HISTORY_HOURS: u32 = 168;
/// Largest `limit` (points returned).
pub const MAX_HISTORY_LIMIT: u32 = 200;

/// The query of `/api/stats/server/history` and `/api/stats/site/:id/history`. Values are read
/// as text and parsed here, so the 400 says which parameter is wrong and what is allowed;
/// unknown parameters (`?status[$ne]=x`) are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Window length in hours, `1..=168`.
    pub hours: Option<String>,
    /// Most points returned, `1..=200`.
    pub limit: Option<String>,
}

impl HistoryQuery {
    /// `(hours, limit)` with defaults applied, or a 400 naming the bad parameter.
    pub fn parse(&self) -> ApiResult<(u32, usize)> {
        let hours = bounded(
            self.hours.as_deref(),
            "hours",
            DEFAULT_HISTORY_HOURS,
            MAX_HISTORY_HOURS,
        )?;
        let limit = bounded(
            self.limit.as_deref(),
            "limit",
            DEFAULT_HISTORY_LIMIT,
            MAX_HISTORY_LIMIT,
        )?;
        Ok((hours, limit as usize))
    }
}

/// An integer in `1..=max`, `default` when absent.
fn bounded(raw: Option<&str>, name: &str, default: u32, max: u32) -> ApiResult<u32> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    raw.parse::<u32>()
        .ok()
        .filter(|v| (1..=max).contains(v))
        .ok_or_else(|| {
            ApiError::bad_request(format!("{name} must be an integer between 1 and {max}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(hours: Option<&str>, limit: Option<&str>) -> HistoryQuery {
        HistoryQuery {
            hours: hours.map(str::to_owned),
            limit: limit.map(str::to_owned),
        }
    }

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(q(None, None).parse(), Ok((1, 60)));
        assert_eq!(q(Some("168"), Some("200")).parse(), Ok((168, 200)));
        assert_eq!(q(Some("1"), Some("1")).parse(), Ok((1, 1)));
    }

    #[test]
    fn out_of_range_or_not_integers_name_the_parameter() {
        for bad in ["0", "169", "-1", "1e9", "abc", "", "1.5", "99999999999"] {
            let e = q(Some(bad), None).parse().unwrap_err();
            assert_eq!(
                e,
                ApiError::bad_request("hours must be an integer between 1 and 168"),
                "{bad}"
            );
        }
        for bad in ["0", "201", "-5", "x"] {
            let e = q(None, Some(bad)).parse().unwrap_err();
            assert_eq!(
                e,
                ApiError::bad_request("limit must be an integer between 1 and 200"),
                "{bad}"
            );
        }
    }
}
