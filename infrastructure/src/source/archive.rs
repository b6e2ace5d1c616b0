//! Uploaded archives (`.tar.gz`, `.zip`): checked entry by entry before anything is written,
//! and written only inside the target folder. Refused: absolute paths, `..`, links that point
//! outside the tree, devices and other special files, more files or more bytes than the bounds
//! (counted from the bytes actually produced, not from what the archive claims).

use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    TarGz,
    Zip,
}

impl ArchiveFormat {
    /// By content, not by name: gzip and zip magic numbers.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0x1f, 0x8b, ..] => Some(ArchiveFormat::TarGz),
            [b'P', b'K', 0x03, 0x04, ..] | [b'P', b'K', 0x05, 0x06, ..] => Some(ArchiveFormat::Zip),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveFormat::TarGz => "tar.gz",
            ArchiveFormat::Zip => "zip",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    pub max_files: u64,
    pub max_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_files: 100_000,
            max_bytes: 512 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a .tar.gz or .zip archive")]
    UnknownFormat,
    #[error("the archive is damaged: {0}")]
    Corrupt(String),
    #[error("entry `{0}` has an absolute path")]
    AbsolutePath(String),
    #[error("entry `{0}` climbs out of the archive with `..`")]
    ParentTraversal(String),
    #[error("link `{entry}` points outside the archive (to `{target}`)")]
    LinkOutside { entry: String, target: String },
    #[error("entry `{0}` is a device, fifo or other special file")]
    SpecialFile(String),
    #[error("the archive holds more than {0} files")]
    TooManyFiles(u64),
    #[error("the archive expands to more than {0} MiB")]
    TooLarge(u64),
    #[error("writing the extracted files failed: {0}")]
    Io(String),
}

/// What an archive holds, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArchiveStats {
    pub files: u64,
    pub bytes: u64,
}

/// A relative path made only of normal components, or why not.
fn safe_relative(raw: &str) -> Result<PathBuf, ArchiveError> {
    let name = raw.replace('\\', "/");
    let path = Path::new(&name);
    if name.starts_with('/') || path.has_root() || name.chars().nth(1) == Some(':') {
        return Err(ArchiveError::AbsolutePath(raw.to_string()));
    }
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(ArchiveError::ParentTraversal(raw.to_string())),
            Component::RootDir | Component::Prefix(_) => {
                return Err(ArchiveError::AbsolutePath(raw.to_string()))
            }
        }
    }
    Ok(clean)
}

/// A link at `entry` to `target` stays inside when resolving it never climbs above the root.
fn check_link(entry: &Path, target: &str, raw_entry: &str) -> Result<(), ArchiveError> {
    let outside = || ArchiveError::LinkOutside {
        entry: raw_entry.to_string(),
        target: target.to_string(),
    };
    if target.starts_with('/') || Path::new(target).has_root() {
        return Err(outside());
    }
    let mut depth: i64 = entry
        .parent()
        .map_or(0, |parent| parent.components().count() as i64);
    for component in Path::new(target).components() {
        match component {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Err(outside());
                }
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return Err(outside()),
        }
    }
    Ok(())
}

struct Budget {
    limits: ArchiveLimits,
    stats: ArchiveStats,
}

impl Budget {
    fn file(&mut self) -> Result<(), ArchiveError> {
        self.stats.files += 1;
        if self.stats.files > self.limits.max_files {
            return Err(ArchiveError::TooManyFiles(self.limits.max_files));
        }
        Ok(())
    }

    /// Copies at most what the budget allows, counting real bytes.
    fn copy(
        &mut self,
        reader: &mut dyn Read,
        out: Option<&mut fs::File>,
    ) -> Result<(), ArchiveError> {
        let mut buffer = [0u8; 64 * 1024];
        let mut out = out;
        loop {
            let read = reader
                .read(&mut buffer)
                .map_err(|error| ArchiveError::Corrupt(error.to_string()))?;
            if read == 0 {
                return Ok(());
            }
            self.stats.bytes += read as u64;
            if self.stats.bytes > self.limits.max_bytes {
                return Err(ArchiveError::TooLarge(
                    self.limits.max_bytes / (1024 * 1024),
                ));
            }
            if let Some(file) = out.as_deref_mut() {
                file.write_all(&buffer[..read])
                    .map_err(|error| ArchiveError::Io(error.to_string()))?;
            }
        }
    }
}

fn create_file(root: &Path, relative: &Path) -> Result<fs::File, ArchiveError> {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|error| ArchiveError::Io(error.to_string()))?;
    }
    // create_new: never write through something already there (a link planted earlier).
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|error| ArchiveError::Io(format!("{}: {error}", relative.display())))
}

/// Checks every entry; with `into`, also extracts into that (empty) folder. Links are checked
/// but not created: detectors do not follow links, so nothing is lost.
pub fn unpack(
    bytes: &[u8],
    into: Option<&Path>,
    limits: ArchiveLimits,
) -> Result<(ArchiveFormat, ArchiveStats), ArchiveError> {
    let format = ArchiveFormat::sniff(bytes).ok_or(ArchiveError::UnknownFormat)?;
    let mut budget = Budget {
        limits,
        stats: ArchiveStats::default(),
    };
    match format {
        ArchiveFormat::TarGz => unpack_tar_gz(bytes, into, &mut budget)?,
        ArchiveFormat::Zip => unpack_zip(bytes, into, &mut budget)?,
    }
    Ok((format, budget.stats))
}

fn unpack_tar_gz(
    bytes: &[u8],
    into: Option<&Path>,
    budget: &mut Budget,
) -> Result<(), ArchiveError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(Cursor::new(bytes)));
    let entries = archive
        .entries()
        .map_err(|error| ArchiveError::Corrupt(error.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| ArchiveError::Corrupt(error.to_string()))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).to_string();
        let relative = safe_relative(&raw)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|target| String::from_utf8_lossy(&target).to_string())
                .unwrap_or_default();
            check_link(&relative, &target, &raw)?;
            continue;
        }
        if kind.is_dir() {
            if let Some(root) = into {
                fs::create_dir_all(root.join(&relative))
                    .map_err(|error| ArchiveError::Io(error.to_string()))?;
            }
            continue;
        }
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        if !kind.is_file() {
            return Err(ArchiveError::SpecialFile(raw));
        }
        if relative.as_os_str().is_empty() {
            continue;
        }
        budget.file()?;
        let mut file = match into {
            Some(root) => Some(create_file(root, &relative)?),
            None => None,
        };
        budget.copy(&mut entry, file.as_mut())?;
    }
    Ok(())
}

fn unpack_zip(bytes: &[u8], into: Option<&Path>, budget: &mut Budget) -> Result<(), ArchiveError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|error| ArchiveError::Corrupt(error.to_string()))?;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|error| ArchiveError::Corrupt(error.to_string()))?;
        let raw = entry.name().to_string();
        let relative = safe_relative(&raw)?;
        if entry.is_symlink() {
            let mut target = String::new();
            entry
                .read_to_string(&mut target)
                .map_err(|error| ArchiveError::Corrupt(error.to_string()))?;
            check_link(&relative, &target, &raw)?;
            continue;
        }
        if entry.is_dir() {
            if let Some(root) = into {
                fs::create_dir_all(root.join(&relative))
                    .map_err(|error| ArchiveError::Io(error.to_string()))?;
            }
            continue;
        }
        if relative.as_os_str().is_empty() {
            continue;
        }
        budget.file()?;
        let mut file = match into {
            Some(root) => Some(create_file(root, &relative)?),
            None => None,
        };
        budget.copy(&mut entry, file.as_mut())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, kind, data, link) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            // Raw names: the tar crate's own setters refuse `..` and absolute paths, which is
            // exactly what a hostile archive contains.
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            if let Some(link) = link {
                let target = link.as_bytes();
                header.as_old_mut().linkname[..target.len()].copy_from_slice(target);
            }
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn zip_archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn a_clean_archive_extracts_inside_the_folder() {
        let bytes = tar_gz(&[
            ("src/app.js", tar::EntryType::Regular, b"debugger;\n", None),
            ("src/link.js", tar::EntryType::Symlink, b"", Some("app.js")),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let (format, stats) = unpack(&bytes, Some(dir.path()), ArchiveLimits::default()).unwrap();
        assert_eq!(format, ArchiveFormat::TarGz);
        assert_eq!(
            stats,
            ArchiveStats {
                files: 1,
                bytes: 10
            }
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("src/app.js")).unwrap(),
            "debugger;\n"
        );

        let zipped = zip_archive(&[("a/b.py", b"import os\n")]);
        let dir = tempfile::tempdir().unwrap();
        let (format, _) = unpack(&zipped, Some(dir.path()), ArchiveLimits::default()).unwrap();
        assert_eq!(format, ArchiveFormat::Zip);
        assert!(dir.path().join("a/b.py").exists());
    }

    #[test]
    fn hostile_tar_entries_are_refused() {
        type Expect = fn(&ArchiveError) -> bool;
        let cases: Vec<(Vec<u8>, Expect)> = vec![
            (
                tar_gz(&[("/etc/passwd", tar::EntryType::Regular, b"x", None)]),
                |e| matches!(e, ArchiveError::AbsolutePath(_)),
            ),
            (
                tar_gz(&[("a/../../escape.txt", tar::EntryType::Regular, b"x", None)]),
                |e| matches!(e, ArchiveError::ParentTraversal(_)),
            ),
            (
                tar_gz(&[(
                    "a/link",
                    tar::EntryType::Symlink,
                    b"",
                    Some("../../etc/passwd"),
                )]),
                |e| matches!(e, ArchiveError::LinkOutside { .. }),
            ),
            (
                tar_gz(&[("link", tar::EntryType::Symlink, b"", Some("/etc/passwd"))]),
                |e| matches!(e, ArchiveError::LinkOutside { .. }),
            ),
            (
                tar_gz(&[("hard", tar::EntryType::Link, b"", Some("../outside"))]),
                |e| matches!(e, ArchiveError::LinkOutside { .. }),
            ),
            (tar_gz(&[("dev", tar::EntryType::Char, b"", None)]), |e| {
                matches!(e, ArchiveError::SpecialFile(_))
            }),
        ];
        for (bytes, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            let error = unpack(&bytes, Some(dir.path()), ArchiveLimits::default()).unwrap_err();
            assert!(expected(&error), "{error:?}");
            assert!(!dir.path().parent().unwrap().join("escape.txt").exists());
        }
    }

    #[test]
    fn hostile_zip_entries_are_refused() {
        for (name, expected) in [
            ("../evil.sh", "ParentTraversal"),
            ("/abs.txt", "AbsolutePath"),
        ] {
            let bytes = zip_archive(&[(name, b"x")]);
            let error = unpack(&bytes, None, ArchiveLimits::default()).unwrap_err();
            assert!(
                format!("{error:?}").starts_with(expected),
                "{name}: {error:?}"
            );
        }
    }

    #[test]
    fn archives_that_expand_past_the_bounds_are_refused() {
        // A small download that expands to a lot: 2 MiB of zeros compress to a few KiB.
        let zeros = vec![0u8; 2 * 1024 * 1024];
        let bomb = zip_archive(&[("zeros.bin", &zeros)]);
        assert!(bomb.len() < 64 * 1024);
        let limits = ArchiveLimits {
            max_files: 10,
            max_bytes: 1024 * 1024,
        };
        assert!(matches!(
            unpack(&bomb, None, limits),
            Err(ArchiveError::TooLarge(1))
        ));
        let many: Vec<(String, &[u8])> =
            (0..11).map(|i| (format!("f{i}.txt"), &b"x"[..])).collect();
        let many: Vec<(&str, &[u8])> = many.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        assert!(matches!(
            unpack(&zip_archive(&many), None, limits),
            Err(ArchiveError::TooManyFiles(10))
        ));
    }

    #[test]
    fn anything_else_is_not_an_archive() {
        assert_eq!(
            unpack(b"just text", None, ArchiveLimits::default()),
            Err(ArchiveError::UnknownFormat)
        );
        assert!(matches!(
            unpack(&[0x1f, 0x8b, 0, 1, 2], None, ArchiveLimits::default()),
            Err(ArchiveError::Corrupt(_))
        ));
    }
}
