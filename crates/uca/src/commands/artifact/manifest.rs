//! `uca artifact manifest`: a sha256sum-format manifest (and its sidecar) of a release tree.

use std::io::Write;
use std::time::Instant;

use serde::Serialize;
use uca_custody::layout::meta_path;
use uca_custody::tree::{self, WalkOptions};

use crate::cli::artifact::ManifestArgs;
use crate::exit::{CliError, Exit};
use crate::output::warn;
use crate::settings::Settings;

#[derive(Serialize)]
struct Written {
    manifest: Option<String>,
    meta: Option<String>,
    files: usize,
    links: usize,
    bytes: u64,
    seconds: f64,
}

/// The absolute form of the output path, without requiring it to exist: files beside it whose
/// names start with it (the manifest, its sidecar, its signatures) are not part of the release.
fn output_prefix(out: &std::path::Path) -> Option<std::path::PathBuf> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(out.file_name()?))
}

pub fn run(args: &ManifestArgs, settings: &Settings) -> Result<(), CliError> {
    let started = Instant::now();
    if let Some(out) = &args.out
        && out.exists()
        && !args.force
    {
        return Err(CliError {
            message: format!("{} exists", out.display()),
            hint: Some(
                "a manifest is never rewritten under its attestations; choose another --out, or pass --force to replace it".into(),
            ),
            code: Exit::Exists.into(),
        });
    }
    let opts = WalkOptions {
        follow_symlinks: args.follow_symlinks,
        exclude_prefix: args.out.as_deref().and_then(output_prefix),
    };
    let walk = tree::walk(&args.base, &args.paths, &opts)?;
    if walk.files.is_empty() && walk.links.is_empty() {
        return Err(CliError::usage(
            "no files found under the given paths",
            Some("name the release's files or directories".to_string()),
        ));
    }
    let bytes: u64 = walk.files.iter().map(|f| f.size).sum();
    let (manifest, meta) = tree::build(&walk)?;
    let text = manifest.render();
    let mut written = Written {
        manifest: None,
        meta: None,
        files: manifest.entries.len(),
        links: walk.links.len(),
        bytes,
        seconds: 0.0,
    };
    match &args.out {
        None => {
            if !walk.links.is_empty() {
                warn(format!(
                    "{} symbolic link(s) are not in the manifest: sha256sum cannot record links; write with --out to record them in the sidecar, or pass --follow-symlinks",
                    walk.links.len()
                ));
            }
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&text)
                .and_then(|()| stdout.flush())
                .map_err(|e| CliError::failure(format!("cannot write to stdout: {e}"), None))?;
            return Ok(());
        }
        Some(out) => {
            let write = |path: &std::path::Path, data: &[u8]| {
                if args.force {
                    uca_ca::fsio::write_atomic(path, data, 0o644)
                } else {
                    uca_ca::fsio::write_new_durable(path, data, 0o644)
                }
            };
            if !args.no_meta {
                let mp = meta_path(out);
                write(&mp, &meta.render())?;
                written.meta = Some(mp.display().to_string());
            } else if !walk.links.is_empty() {
                warn(format!(
                    "{} symbolic link(s) are not recorded (--no-meta)",
                    walk.links.len()
                ));
            }
            write(out, &text)?;
            written.manifest = Some(out.display().to_string());
        }
    }
    written.seconds = started.elapsed().as_secs_f64();
    if settings.out.json {
        return settings.out.json(&written);
    }
    let rate = bytes as f64 / written.seconds.max(1e-6) / 1e6;
    settings.out.line(format!(
        "wrote {}: {} file(s), {} link(s), {:.1} MB hashed in {:.2}s ({rate:.0} MB/s)",
        written.manifest.as_deref().unwrap_or("-"),
        written.files,
        written.links,
        bytes as f64 / 1e6,
        written.seconds
    ));
    if let Some(m) = &written.meta {
        settings.out.line(format!("     {m}: modes and links"));
    }
    Ok(())
}
