//! The manifest: GNU `sha256sum` text, byte for byte, so `sha256sum -c` checks a release with no
//! uca installed; and its optional sidecar (`MANIFEST.meta`) with modes and symlinks, which
//! `sha256sum` has no way to say.
//!
//! Paths are raw bytes (Unix file names need not be UTF-8), relative, `/`-separated, sorted
//! bytewise. A name holding `\`, LF or CR is written the way coreutils 9 writes it: the line
//! starts with `\` and those bytes become `\\`, `\n`, `\r`.

use crate::CustodyError;

/// One file and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: Vec<u8>,
    pub sha256: [u8; 32],
}

/// A parsed or freshly built manifest: entries unique and sorted by path bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub entries: Vec<Entry>,
}

/// What a path in the sidecar is, beyond its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaKind {
    /// A regular file (its checksum is in the manifest).
    File,
    /// A symbolic link, recorded with its target rather than followed.
    Link { target: Vec<u8> },
}

/// One sidecar line: permission bits and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaEntry {
    pub path: Vec<u8>,
    pub mode: u32,
    pub kind: MetaKind,
}

/// The sidecar: every recorded path with its mode, sorted like the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub entries: Vec<MetaEntry>,
}

/// The first line of a sidecar, so a stray file is never mistaken for one.
const META_HEADER: &str = "# uca manifest meta v1: MODE TYPE PATH [TARGET]";

/// Shows a path for people: lossy UTF-8, control characters escaped.
pub fn display_path(path: &[u8]) -> String {
    String::from_utf8_lossy(path).escape_debug().to_string()
}

fn needs_escape(path: &[u8]) -> bool {
    path.iter().any(|b| matches!(b, b'\\' | b'\n' | b'\r'))
}

fn escape_into(out: &mut Vec<u8>, path: &[u8], space_too: bool) {
    for &b in path {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b' ' if space_too => out.extend_from_slice(b"\\s"),
            b'\t' if space_too => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
}

fn unescape(text: &[u8], line: usize) -> Result<Vec<u8>, CustodyError> {
    let mut out = Vec::with_capacity(text.len());
    let mut it = text.iter();
    while let Some(&b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next() {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b's') => out.push(b' '),
            Some(b't') => out.push(b'\t'),
            _ => {
                return Err(CustodyError::ManifestLine {
                    line,
                    message: "a backslash escape other than \\\\, \\n or \\r".into(),
                });
            }
        }
    }
    Ok(out)
}

/// Checks that a manifest path is relative and stays inside the base: no leading `/`, no `..`,
/// no NUL. `.` components and doubled slashes are dropped, as a file system would read them.
pub fn clean_path(raw: &[u8], line: usize) -> Result<Vec<u8>, CustodyError> {
    let bad = |message: &str| CustodyError::ManifestLine {
        line,
        message: format!("path '{}' {message}", display_path(raw)),
    };
    if raw.is_empty() {
        return Err(bad("is empty"));
    }
    if raw.first() == Some(&b'/') {
        return Err(bad("is absolute; manifest paths are relative to the base"));
    }
    if raw.contains(&0) {
        return Err(bad("holds a NUL byte"));
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(bad("escapes the base directory with '..'")),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(bad("names no file"));
    }
    Ok(parts.join(&b'/'))
}

impl Manifest {
    /// Sorts and checks for duplicates; used after building and after parsing.
    pub fn from_entries(mut entries: Vec<Entry>) -> Result<Manifest, CustodyError> {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(w) = entries.windows(2).find(|w| w[0].path == w[1].path) {
            return Err(CustodyError::DuplicatePath(display_path(&w[0].path)));
        }
        Ok(Manifest { entries })
    }

    /// The exact bytes `sha256sum` would print for these files (text mode).
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 100);
        for e in &self.entries {
            let escaped = needs_escape(&e.path);
            if escaped {
                out.push(b'\\');
            }
            out.extend_from_slice(hex::encode(e.sha256).as_bytes());
            out.extend_from_slice(b"  ");
            if escaped {
                escape_into(&mut out, &e.path, false);
            } else {
                out.extend_from_slice(&e.path);
            }
            out.push(b'\n');
        }
        out
    }

    /// Reads `sha256sum` output strictly: every line `HEX  PATH` (or `HEX *PATH`), LF-ended,
    /// paths inside the base and unique. Anything else is an error naming the line.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, CustodyError> {
        if bytes.is_empty() {
            return Err(CustodyError::EmptyManifest);
        }
        if bytes.last() != Some(&b'\n') {
            let line = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(CustodyError::ManifestLine {
                line,
                message: "the last line does not end with a newline (truncated file?)".into(),
            });
        }
        let mut entries = Vec::new();
        for (i, raw) in bytes[..bytes.len() - 1].split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let bad = |message: &str| CustodyError::ManifestLine {
                line,
                message: message.to_string(),
            };
            let (escaped, rest) = match raw.strip_prefix(b"\\") {
                Some(r) => (true, r),
                None => (false, raw),
            };
            if rest.len() < 67 {
                return Err(bad(
                    "too short for 'SHA256  PATH' (64 hex digits, two separators, a path)",
                ));
            }
            let (hex_part, tail) = rest.split_at(64);
            let mut sha256 = [0u8; 32];
            hex::decode_to_slice(hex_part, &mut sha256)
                .map_err(|_| bad("does not start with 64 hex digits of SHA-256"))?;
            if hex_part.iter().any(u8::is_ascii_uppercase) {
                return Err(bad(
                    "the checksum is upper-case hex; sha256sum writes lower case",
                ));
            }
            let name = match tail {
                [b' ', b' ' | b'*', name @ ..] => name,
                _ => return Err(bad("the checksum must be followed by two spaces (or ' *')")),
            };
            let name = if escaped {
                unescape(name, line)?
            } else {
                name.to_vec()
            };
            if name.contains(&b'\r') && !escaped {
                return Err(bad("the path holds a carriage return (CRLF line ends?)"));
            }
            entries.push(Entry {
                path: clean_path(&name, line)?,
                sha256,
            });
        }
        Manifest::from_entries(entries)
    }
}

impl Meta {
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 60 + 64);
        out.extend_from_slice(META_HEADER.as_bytes());
        out.push(b'\n');
        for e in &self.entries {
            let kind = match e.kind {
                MetaKind::File => "f",
                MetaKind::Link { .. } => "l",
            };
            out.extend_from_slice(format!("{:04o} {kind} ", e.mode & 0o7777).as_bytes());
            escape_into(&mut out, &e.path, true);
            if let MetaKind::Link { target } = &e.kind {
                out.push(b' ');
                escape_into(&mut out, target, true);
            }
            out.push(b'\n');
        }
        out
    }

    pub fn parse(bytes: &[u8]) -> Result<Meta, CustodyError> {
        let bad = |line: usize, message: &str| CustodyError::MetaLine {
            line,
            message: message.to_string(),
        };
        let mut lines = bytes.split(|&b| b == b'\n');
        if lines.next() != Some(META_HEADER.as_bytes()) {
            return Err(bad(1, "is not the header of a uca manifest sidecar"));
        }
        if bytes.last() != Some(&b'\n') {
            return Err(bad(
                bytes.iter().filter(|&&b| b == b'\n').count() + 1,
                "the last line does not end with a newline (truncated file?)",
            ));
        }
        let mut entries = Vec::new();
        for (i, raw) in lines.enumerate() {
            let line = i + 2;
            if raw.is_empty() {
                continue;
            }
            let fields: Vec<&[u8]> = raw.split(|&b| b == b' ').collect();
            let (mode, kind, path, target) = match fields.as_slice() {
                [m, b"f", p] => (m, "f", p, None),
                [m, b"l", p, t] => (m, "l", p, Some(t)),
                _ => return Err(bad(line, "expected 'MODE f PATH' or 'MODE l PATH TARGET'")),
            };
            let mode = std::str::from_utf8(mode)
                .ok()
                .and_then(|m| u32::from_str_radix(m, 8).ok())
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| bad(line, "the mode is not octal permission bits"))?;
            let path = clean_path(&unescape(path, line)?, line)?;
            let kind = match (kind, target) {
                ("l", Some(t)) => MetaKind::Link {
                    target: unescape(t, line)?,
                },
                _ => MetaKind::File,
            };
            entries.push(MetaEntry { path, mode, kind });
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(w) = entries.windows(2).find(|w| w[0].path == w[1].path) {
            return Err(CustodyError::DuplicatePath(display_path(&w[0].path)));
        }
        Ok(Meta { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &[u8], byte: u8) -> Entry {
        Entry {
            path: path.to_vec(),
            sha256: [byte; 32],
        }
    }

    #[test]
    fn renders_like_coreutils_and_reads_back() {
        let m = Manifest::from_entries(vec![
            entry(b"b/c", 2),
            entry(b"a\nb", 1),
            entry(b"c\\d", 3),
            entry(b"e\rf", 4),
        ])
        .unwrap();
        let text = m.render();
        let s = String::from_utf8(text.clone()).unwrap();
        assert!(s.contains(&format!("\\{}  a\\nb\n", "01".repeat(32))));
        assert!(s.contains(&format!("\\{}  c\\\\d\n", "03".repeat(32))));
        assert!(s.contains(&format!("{}  b/c\n", "02".repeat(32))));
        assert_eq!(Manifest::parse(&text).unwrap(), m);
    }

    #[test]
    fn refuses_escapes_duplicates_and_truncation() {
        let h = "00".repeat(32);
        for (text, want) in [
            (format!("{h}  ../etc/passwd\n"), "escapes the base"),
            (format!("{h}  /etc/passwd\n"), "absolute"),
            (format!("{h}  a\n{h}  ./a\n"), "more than once"),
            (format!("{h}  a"), "truncated"),
            (format!("{}  a\n", &h[..60]), "too short"),
            (format!("{h} ab\n"), "two spaces"),
            ("garbage\n".to_string(), "too short"),
        ] {
            let err = Manifest::parse(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn meta_round_trips_odd_names() {
        let meta = Meta {
            entries: vec![
                MetaEntry {
                    path: b"bin/run me".to_vec(),
                    mode: 0o755,
                    kind: MetaKind::File,
                },
                MetaEntry {
                    path: b"current".to_vec(),
                    mode: 0o777,
                    kind: MetaKind::Link {
                        target: b"releases/v 1".to_vec(),
                    },
                },
            ],
        };
        assert_eq!(Meta::parse(&meta.render()).unwrap(), meta);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// One path component: any bytes but `/` and NUL, with the troublesome ones (`\`, LF, CR,
    /// space, tab, `*`, UTF-8) likely, and never `.` or `..`.
    fn component() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                4 => b'a'..=b'z',
                1 => prop::sample::select(b"\\\n\r \t*.".to_vec()),
                1 => (1u8..=255).prop_filter("no slash", |b| *b != b'/'),
            ],
            1..12,
        )
        .prop_filter("not . or ..", |c| c != b"." && c != b"..")
    }

    fn path() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(component(), 1..4).prop_map(|parts| parts.join(&b'/'))
    }

    fn manifest() -> impl Strategy<Value = Manifest> {
        prop::collection::btree_map(path(), any::<[u8; 32]>(), 1..12).prop_map(|m| Manifest {
            entries: m
                .into_iter()
                .map(|(path, sha256)| Entry { path, sha256 })
                .collect(),
        })
    }

    proptest! {
        /// Whatever names the files have, the rendered manifest reads back to the same entries.
        #[test]
        fn render_then_parse_is_the_same(m in manifest()) {
            prop_assert_eq!(Manifest::parse(&m.render()).ok(), Some(m));
        }

        /// A line is escaped exactly when its name holds `\`, LF or CR, as coreutils does.
        #[test]
        fn escaped_exactly_when_coreutils_escapes(p in path()) {
            let m = Manifest { entries: vec![Entry { path: p.clone(), sha256: [7; 32] }] };
            let text = m.render();
            prop_assert_eq!(text.first() == Some(&b'\\'), needs_escape(&p));
            prop_assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), 1);
        }

        /// The sidecar too, links included.
        #[test]
        fn meta_render_then_parse_is_the_same(
            entries in prop::collection::btree_map(path(), (0u32..=0o7777, prop::option::of(path())), 0..8),
        ) {
            let meta = Meta {
                entries: entries
                    .into_iter()
                    .map(|(path, (mode, link))| MetaEntry {
                        path,
                        mode,
                        kind: link.map_or(MetaKind::File, |target| MetaKind::Link { target }),
                    })
                    .collect(),
            };
            prop_assert_eq!(Meta::parse(&meta.render()).ok(), Some(meta));
        }

        /// Parsing never panics, whatever the bytes.
        #[test]
        fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = Manifest::parse(&bytes);
            let _ = Meta::parse(&bytes);
        }
    }
}
