//! Printing: one JSON document with `--json`, readable text otherwise; color only on a
//! terminal and never with NO_COLOR.

use std::io::{IsTerminal, Write};

use serde::Serialize;
use time::OffsetDateTime;

use crate::exit::CliError;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub color: bool,
}

impl Output {
    pub fn new(json: bool, no_color_env: bool) -> Output {
        Output {
            json,
            color: !json && !no_color_env && std::io::stdout().is_terminal(),
        }
    }

    /// Writes `value` as the one JSON document on stdout.
    pub fn json<T: Serialize>(&self, value: &T) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::failure(format!("cannot encode JSON: {e}"), None))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")
            .map_err(|e| CliError::failure(format!("cannot write to stdout: {e}"), None))
    }

    /// A line of data on stdout (human mode).
    pub fn line(&self, text: impl AsRef<str>) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", text.as_ref());
    }

    /// Paints `text` when color is on.
    pub fn paint(&self, text: &str, color: Color) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match color {
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Red => "31",
            Color::Dim => "2",
            Color::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Color {
    Green,
    Yellow,
    Red,
    Dim,
    Bold,
}

/// A note for the person at the terminal: stderr, never mixed with data.
pub fn note(text: impl AsRef<str>) {
    eprintln!("{}", text.as_ref());
}

pub fn warn(text: impl AsRef<str>) {
    eprintln!("warning: {}", text.as_ref());
}

/// `2027-01-05 14:03 UTC`
pub fn when(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_else(|_| t.to_string())
}

/// `2027-01-05`
pub fn day(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_else(|_| t.to_string())
}

/// Time left, in words a person reads at a glance: `396d`, `5h`, `expired 3d ago`.
pub fn time_left(not_after: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = not_after - now;
    if d.is_negative() {
        let ago = -d;
        return if ago.whole_days() >= 1 {
            format!("expired {}d ago", ago.whole_days())
        } else {
            "expired".into()
        };
    }
    match d.whole_days() {
        10.. => format!("{}d", d.whole_days()),
        1..=9 => format!("{}d {}h", d.whole_days(), d.whole_hours() % 24),
        _ => format!("{}h", d.whole_hours()),
    }
}

/// Green beyond 30 days, yellow inside 30, red inside 7 or expired.
pub fn expiry_color(not_after: OffsetDateTime, now: OffsetDateTime) -> Color {
    let d = not_after - now;
    if d < time::Duration::days(7) {
        Color::Red
    } else if d < time::Duration::days(30) {
        Color::Yellow
    } else {
        Color::Green
    }
}
