//! The monitoring colors every report of uca speaks (`expiring`, `list`, `health`), and the
//! expiry cut-offs they share.

use serde::Serialize;

use crate::span::Span;

/// A certificate turns Yellow this long before it expires, unless told otherwise.
pub const EXPIRY_WARN: Span = Span::days(30);
/// A certificate turns Red this long before it expires, unless told otherwise.
pub const EXPIRY_CRIT: Span = Span::days(7);

/// Green / Yellow / Red, plus Unknown for an endpoint with nothing to judge yet. The order is
/// the severity: `max()` of several colors is the worst. In JSON a color is lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Green,
    Unknown,
    Yellow,
    Red,
}

impl Color {
    pub const ALL: [Color; 4] = [Color::Green, Color::Yellow, Color::Red, Color::Unknown];

    /// The machine form: JSON, stored state, metric labels, hook variables.
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Green => "green",
            Color::Yellow => "yellow",
            Color::Red => "red",
            Color::Unknown => "unknown",
        }
    }

    /// The form people read in tables and on the status page.
    pub fn title(self) -> &'static str {
        match self {
            Color::Green => "Green",
            Color::Yellow => "Yellow",
            Color::Red => "Red",
            Color::Unknown => "Unknown",
        }
    }

    /// Either form, in any case (state written by older versions used the title form).
    pub fn parse(s: &str) -> Option<Color> {
        Color::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }

    /// The Prometheus gauge value: 0 green, 1 yellow, 2 red, 3 unknown.
    pub fn gauge(self) -> u8 {
        match self {
            Color::Green => 0,
            Color::Yellow => 1,
            Color::Red => 2,
            Color::Unknown => 3,
        }
    }

    /// The color of a certificate with `left` before its notAfter: Red within `crit`, Yellow
    /// within `warn` (an expired certificate is Red).
    pub fn of_time_left(left: time::Duration, warn: Span, crit: Span) -> Color {
        if left <= crit.as_time() {
            Color::Red
        } else if left <= warn.as_time() {
            Color::Yellow
        } else {
            Color::Green
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_order_and_names_round_trip() {
        assert!(Color::Green < Color::Unknown && Color::Unknown < Color::Yellow);
        assert!(Color::Yellow < Color::Red);
        for c in Color::ALL {
            assert_eq!(Color::parse(c.as_str()), Some(c));
            assert_eq!(Color::parse(c.title()), Some(c));
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str()),
                "JSON is lowercase"
            );
        }
        assert_eq!(Color::parse("purple"), None);
    }

    #[test]
    fn time_left_cut_offs() {
        let day = time::Duration::days(1);
        let c = |left| Color::of_time_left(left, EXPIRY_WARN, EXPIRY_CRIT);
        assert_eq!(c(day * 31), Color::Green);
        assert_eq!(c(day * 30), Color::Yellow);
        assert_eq!(c(day * 8), Color::Yellow);
        assert_eq!(c(day * 7), Color::Red);
        assert_eq!(c(-day), Color::Red);
    }
}
