//! Walking a folder the way git sees it, and deciding which files are worth analysing.

use ignore::WalkBuilder;
use std::path::{Path, PathBuf};

/// Folders skipped wherever they appear: installed dependencies, vendored copies and build
/// output. Their code is not the project's own, and scanning it would drown real findings.
pub const DEFAULT_SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "bower_components",
    "jspm_packages",
    "vendor",
    "dist",
    ".next",
    ".nuxt",
    ".yarn",
    "__pycache__",
    ".venv",
    ".tox",
];

/// Extensions of files that are never text worth reading.
const BINARY_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "bmp", "ico", "webp", "avif", "tiff", "psd", "pdf", "zip", "gz",
    "tgz", "bz2", "xz", "zst", "7z", "rar", "jar", "war", "class", "exe", "dll", "so", "dylib",
    "a", "o", "obj", "lib", "wasm", "woff", "woff2", "ttf", "otf", "eot", "mp3", "mp4", "wav",
    "ogg", "webm", "mov", "avi", "sqlite", "db", "bin", "dat", "pyc", "node",
];

/// A file the walk kept, before its content is looked at.
#[derive(Debug, Clone)]
pub struct WalkedFile {
    pub absolute: PathBuf,
    /// Relative to the root, `/`-separated.
    pub relative: String,
    pub size: u64,
}

/// Why a file was left out of the analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    TooLarge,
    Binary,
    Minified,
    Generated,
    Unreadable,
}

#[derive(Debug, Default)]
pub struct WalkResult {
    pub files: Vec<WalkedFile>,
    pub too_large: usize,
    pub binary: usize,
    pub minified: usize,
    pub generated: usize,
    pub unreadable: usize,
}

/// Lists the files under `root` that git would track: `.gitignore` (and `.ignore`,
/// `.git/info/exclude`) honoured even outside a git checkout, hidden files kept (a committed
/// `.env` matters) but `.git` skipped, `skipped_dirs` pruned, symlinks not followed, and files
/// over `max_file_bytes` counted but not listed.
pub fn walk(root: &Path, skipped_dirs: &[String], max_file_bytes: u64) -> WalkResult {
    let skipped: Vec<String> = skipped_dirs.to_vec();
    let mut result = WalkResult::default();
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .follow_links(false)
        .git_ignore(true)
        .git_exclude(true)
        // The machine's global gitignore would make results depend on who runs the analysis.
        .git_global(false)
        .require_git(false)
        // Ignore files above the analysed folder belong to some other project.
        .parents(false)
        .filter_entry(move |entry| {
            let is_dir = entry.file_type().is_some_and(|kind| kind.is_dir());
            !(is_dir
                && entry.depth() > 0
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| skipped.iter().any(|skip| skip == name)))
        })
        .build();

    for entry in walker {
        let Ok(entry) = entry else {
            result.unreadable += 1;
            continue;
        };
        // Symlinks report their own type here (links are not followed), so they fall out.
        if !entry.file_type().is_some_and(|kind| kind.is_file()) {
            continue;
        }
        let path = entry.path();
        let Some(relative) = relative_path(root, path) else {
            continue;
        };
        if is_binary_name(&relative) {
            result.binary += 1;
            continue;
        }
        if is_minified_name(&relative) {
            result.minified += 1;
            continue;
        }
        if is_generated_name(&relative) {
            result.generated += 1;
            continue;
        }
        let size = entry.metadata().map(|meta| meta.len()).unwrap_or(0);
        if size > max_file_bytes {
            result.too_large += 1;
            continue;
        }
        result.files.push(WalkedFile {
            absolute: path.to_path_buf(),
            relative,
            size,
        });
    }
    result.files.sort_by(|a, b| a.relative.cmp(&b.relative));
    result
}

fn relative_path(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Vec<&str> = relative
        .components()
        .map(|part| part.as_os_str().to_str())
        .collect::<Option<_>>()?;
    Some(parts.join("/"))
}

fn extension_of(relative: &str) -> String {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    name.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_binary_name(relative: &str) -> bool {
    BINARY_EXTENSIONS.contains(&extension_of(relative).as_str())
}

fn is_minified_name(relative: &str) -> bool {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    [
        ".min.js", ".min.mjs", ".min.cjs", ".min.css", ".js.map", ".css.map",
    ]
    .iter()
    .any(|suffix| name.ends_with(suffix))
}

fn is_generated_name(relative: &str) -> bool {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    name.contains(".generated.")
        || name.ends_with(".pb.go")
        || name.ends_with("_pb2.py")
        || name.ends_with("_pb2_grpc.py")
        || name.ends_with(".g.dart")
}

/// Decides from the content whether a file should be skipped. Binary: a NUL byte early on or
/// invalid UTF-8. Generated: a marker in the first lines. Minified: JS or CSS whose lines average
/// over 300 bytes (hand-written code averages under 40). A file worth analysing is returned as
/// text (it was checked to be UTF-8 on the way).
pub fn classify_content<'b>(relative: &str, bytes: &'b [u8]) -> Result<&'b str, SkipReason> {
    // `memchr` rather than `contains` and `lines().count()`: the standard library's scans are
    // not vectorised, and every analysed file goes through here (3% of a lint run in `perf`).
    let head = &bytes[..bytes.len().min(8 * 1024)];
    if memchr::memchr(0, head).is_some() {
        return Err(SkipReason::Binary);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(SkipReason::Binary);
    };
    let header: String = text.lines().take(5).collect::<Vec<_>>().join("\n");
    if header.contains("@generated")
        || header.contains("DO NOT EDIT")
        || header.contains("Code generated by")
        || header.contains("<auto-generated")
    {
        return Err(SkipReason::Generated);
    }
    let extension = extension_of(relative);
    if matches!(extension.as_str(), "js" | "mjs" | "cjs" | "css") && bytes.len() >= 1024 {
        // What `text.lines().count()` counts: a last line without a line break is a line too.
        let line_count =
            memchr::memchr_iter(b'\n', bytes).count() + usize::from(!bytes.ends_with(b"\n"));
        if bytes.len() / line_count.max(1) > 300 {
            return Err(SkipReason::Minified);
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_classification_spots_binary_generated_and_minified_files() {
        assert_eq!(
            classify_content("a.bin", b"ab\0cd"),
            Err(SkipReason::Binary)
        );
        assert_eq!(
            classify_content("a.txt", &[0xff, 0xfe, 0x41]),
            Err(SkipReason::Binary)
        );
        assert_eq!(
            classify_content(
                "a.go",
                b"// Code generated by protoc. DO NOT EDIT.\npackage a\n"
            ),
            Err(SkipReason::Generated)
        );
        let minified = format!("var a={};", "b".repeat(2000));
        assert_eq!(
            classify_content("a.js", minified.as_bytes()),
            Err(SkipReason::Minified)
        );
        assert_eq!(
            classify_content("a.js", b"const a = 1;\n"),
            Ok("const a = 1;\n")
        );
    }

    #[test]
    fn a_last_line_counts_for_minification_only_when_it_has_text() {
        let line = "x".repeat(300);
        // 1204 bytes in four lines: 301 a line, minified (a final line break adds no line).
        let four_lines = format!("{line}\n{line}\n{line}\n{line}\n");
        assert_eq!(
            classify_content("a.js", four_lines.as_bytes()),
            Err(SkipReason::Minified)
        );
        // 1216 bytes in five lines, the last without a line break: 243 a line.
        let four_lines_and_a_tail = format!("{four_lines}{}", "y".repeat(12));
        assert!(classify_content("a.js", four_lines_and_a_tail.as_bytes()).is_ok());
    }

    #[test]
    fn names_spot_minified_generated_and_binary_files() {
        assert!(is_minified_name("lib/jquery.min.js"));
        assert!(is_generated_name("api/types.generated.ts"));
        assert!(is_binary_name("img/logo.PNG"));
        assert!(!is_binary_name("src/main.rs"));
    }
}
