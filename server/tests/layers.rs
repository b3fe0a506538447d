//! The layers of `server/src` import downward only (`docs/ARCHITECTURE.md`): `sim` → `sync` →
//! `room` (with `record` and `replay` beside it) → `net` → `ops` → `server.rs`, with `config`,
//! `metrics` and `join_token` beside the bottom, importing none of `room`, `net`, `ops` or
//! `server`. This test reads every source file and fails on a `crate::` path that reaches up.

use std::path::{Path, PathBuf};

/// A module's height: it may use modules of its own height or lower.
fn rank(module: &str) -> Option<u8> {
    Some(match module {
        // Beside the bottom: they may read the games' parameters and nothing above.
        "config" | "metrics" | "join_token" => 0,
        "sim" => 0,
        "sync" => 1,
        // Recording sits under the room that feeds it; replay beside it (no room, no network).
        "record" | "replay" => 2,
        "room" => 2,
        "net" => 3,
        "ops" => 4,
        "server" => 5,
        _ => return None,
    })
}

/// Imports that reach up today, each with the reason it is still there. Empty: every layer
/// imports downward only, and a new exception needs its reason written here.
const KNOWN: &[(&str, &str)] = &[];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("server/src is readable");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file's code names through `crate::` (comments skipped), with the
/// line they are on.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a::X, b};`: the first segment of each item on this line.
                let inner = group.split('}').next().unwrap_or_default();
                for item in inner.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.push((n + 1, name));
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.push((n + 1, name));
            }
        }
    }
    found
}

#[test]
fn layers_import_downward_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let module = rel
            .split('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".rs");
        // The crate root and the binary wire everything together.
        let Some(own) = rank(module) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable source");
        for (line, used) in crate_paths(&text) {
            let Some(theirs) = rank(&used) else {
                continue;
            };
            let beside_bottom = matches!(module, "config" | "metrics" | "join_token");
            let too_high = theirs > own || (beside_bottom && theirs > 0);
            if too_high && !KNOWN.contains(&(rel.as_str(), used.as_str())) {
                upward.push(format!("{rel}:{line} uses crate::{used}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "modules import upward (sim → sync → room → net → ops → server):\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_check_sees_grouped_and_plain_paths() {
    let found = crate_paths(
        "use crate::net::X;\nuse crate::{ops::Y, room};\n// crate::server in a comment\n",
    );
    let names: Vec<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["net", "ops", "room"], "comments are skipped");
    assert_eq!(rank("ops"), Some(4), "ops sits above net");
}
