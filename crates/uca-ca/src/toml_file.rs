//! The one way uca reads its four TOML files (`uca.toml`, plans, custody policies, health
//! targets): decode into `Raw*` types with spans, then report any problem as
//! `FILE:LINE:COLUMN: message` through one error type.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use thiserror::Error;
use toml::Spanned;

/// Which of uca's files an error is in: the next step to suggest depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFile {
    /// The CA's `uca.toml`.
    CaConfig,
    /// A plan for `uca plan` / `uca apply`.
    Plan,
    /// A custody policy for `uca artifact verify`.
    Policy,
    /// A targets file for `uca health watch`.
    Targets,
}

/// A problem at a place in one of uca's TOML files.
#[derive(Debug, Clone, Error)]
#[error("{}:{line}:{column}: {message}", path.display())]
pub struct ConfigError {
    pub file: ConfigFile,
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

/// A TOML file's text and name, able to place an error at any decoded value.
#[derive(Debug, Clone, Copy)]
pub struct TomlFile<'a> {
    pub text: &'a str,
    pub path: &'a Path,
    pub file: ConfigFile,
}

impl<'a> TomlFile<'a> {
    pub fn new(file: ConfigFile, path: &'a Path, text: &'a str) -> TomlFile<'a> {
        TomlFile { text, path, file }
    }

    /// Decodes the whole file; a syntax error or an unknown key is placed where TOML found it.
    pub fn decode<R: DeserializeOwned>(&self) -> Result<R, ConfigError> {
        toml::from_str(self.text).map_err(|e| {
            self.error_at(
                e.span().map(|s| s.start).unwrap_or(0),
                e.message().to_string(),
            )
        })
    }

    /// An error at a byte offset of the text.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        let (line, column) = line_col(self.text, offset);
        ConfigError {
            file: self.file,
            path: self.path.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// An error at a decoded value.
    pub fn at<T>(&self, value: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        self.error_at(value.span().start, message)
    }

    /// An error at a value when it was written, else at `fallback` (its table): a rule broken
    /// by a default still points at the table that took the default.
    pub fn at_or<T>(
        &self,
        value: Option<&Spanned<T>>,
        fallback: usize,
        message: impl Into<String>,
    ) -> ConfigError {
        self.error_at(value.map(|v| v.span().start).unwrap_or(fallback), message)
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        #[allow(dead_code)]
        name: Spanned<String>,
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let path = Path::new("plan.toml");
        let text = "# comment\nname = \"é\"\nbogus = 1\n";
        let f = TomlFile::new(ConfigFile::Plan, path, text);
        let e = f.decode::<Raw>().err().unwrap();
        assert_eq!((e.line, e.column), (3, 1), "{e}");
        assert!(e.to_string().starts_with("plan.toml:3:1: "), "{e}");
        let text = "name = \"é\"\n";
        let f = TomlFile::new(ConfigFile::Plan, path, text);
        let raw: Raw = f.decode().unwrap();
        let e = f.at(&raw.name, "bad name");
        assert_eq!(e.to_string(), "plan.toml:1:8: bad name");
        assert_eq!(f.at_or::<String>(None, 0, "x").column, 1);
        // An offset inside a multi-byte character still lands on its line.
        assert_eq!(f.error_at(9, "m").line, 1);
    }
}
