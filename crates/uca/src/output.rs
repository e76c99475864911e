//! Printing: one JSON document with `--json`, readable text otherwise; color only on a
//! terminal and never with NO_COLOR.

use std::io::{IsTerminal, Write};

use serde::Serialize;
use time::OffsetDateTime;
use uca_pki::Color;

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
    pub fn paint(&self, text: &str, style: Style) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match style {
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Red => "31",
            Style::Dim => "2",
            Style::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// A terminal style: the monitoring colors, plus dim and bold for structure.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    Green,
    Yellow,
    Red,
    Dim,
    Bold,
}

impl Style {
    /// How a monitoring color is painted; Unknown is dim, as nothing is known yet.
    pub fn of(color: Color) -> Style {
        match color {
            Color::Green => Style::Green,
            Color::Yellow => Style::Yellow,
            Color::Red => Style::Red,
            Color::Unknown => Style::Dim,
        }
    }
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

/// The style of a certificate's time left, by the default expiry cut-offs `uca expiring` uses.
pub fn expiry_style(not_after: OffsetDateTime, now: OffsetDateTime) -> Style {
    Style::of(Color::of_time_left(
        not_after - now,
        uca_pki::color::EXPIRY_WARN,
        uca_pki::color::EXPIRY_CRIT,
    ))
}
