//! Which old recordings go: by count and by age (`recording.keep_count`, `max_age_secs`).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The extension of recording files; only these are ever pruned.
pub const EXTENSION: &str = "tsrec";

/// Deletes the recordings in `dir` older than `max_age` (if set), then the oldest until at most
/// `keep` remain. Returns the files deleted. Files that are not recordings are left alone.
pub fn prune(dir: &Path, keep: usize, max_age: Option<Duration>) -> io::Result<Vec<PathBuf>> {
    let now = SystemTime::now();
    let mut found: Vec<(SystemTime, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != EXTENSION) {
            continue;
        }
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        found.push((meta.modified().unwrap_or(now), path));
    }
    // Oldest first; the name (which starts with the start time) breaks ties.
    found.sort();
    let mut deleted = Vec::new();
    let excess = found.len().saturating_sub(keep);
    for (i, (modified, path)) in found.into_iter().enumerate() {
        let too_old =
            max_age.is_some_and(|age| now.duration_since(modified).is_ok_and(|d| d > age));
        if i < excess || too_old {
            match std::fs::remove_file(&path) {
                Ok(()) => deleted.push(path),
                // Another room's pruning got there first.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tickstream-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    }

    #[test]
    fn the_oldest_beyond_the_count_go_and_other_files_stay() {
        let dir = scratch("prune-count");
        for i in 0..5 {
            std::fs::write(dir.join(format!("{i}-room.tsrec")), b"x").expect("writes");
            // Distinct modification times, oldest first.
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::write(dir.join("notes.txt"), b"keep me").expect("writes");
        let deleted = prune(&dir, 2, None).expect("prunes");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .expect("lists")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        assert_eq!(deleted.len(), 3, "three over the count of two");
        assert_eq!(
            names,
            ["3-room.tsrec", "4-room.tsrec", "notes.txt"],
            "the two newest recordings and the other file remain"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn recordings_past_the_age_go_whatever_the_count() {
        let dir = scratch("prune-age");
        std::fs::write(dir.join("old.tsrec"), b"x").expect("writes");
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(dir.join("new.tsrec"), b"x").expect("writes");
        let deleted = prune(&dir, 100, Some(Duration::from_millis(150))).expect("prunes");
        assert_eq!(
            deleted,
            [dir.join("old.tsrec")],
            "only the old one is past the age"
        );
        assert!(dir.join("new.tsrec").exists(), "the new one stays");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
