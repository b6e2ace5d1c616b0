//! Value types parsed at the edge ("parse, don't validate"): once built, they are valid.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("name must not be empty")]
    EmptyName,
    #[error("name is longer than {max} characters")]
    NameTooLong { max: usize },
    #[error("gitRemote must not be empty")]
    EmptyRemote,
    #[error("gitRemote is longer than {max} characters")]
    RemoteTooLong { max: usize },
    #[error("gitRemote `{0}` is not a URL (https, http, ssh, git, file), an scp-style `user@host:path` or a path")]
    UnsupportedRemote(String),
    #[error("gitBranch `{0}` is not a valid branch name")]
    InvalidBranch(String),
    #[error("gitCommit `{0}` is not a hexadecimal commit id of 7 to 64 characters")]
    InvalidCommit(String),
}

macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A project's display name: trimmed, 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProjectName(String);
string_value!(ProjectName);

impl ProjectName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let name: String = raw.trim().chars().filter(|c| !c.is_control()).collect();
        if name.is_empty() {
            return Err(ValueError::EmptyName);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(ValueError::NameTooLong {
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self(name))
    }
}

/// Where the source lives: an https/ssh/git/file URL, an scp-style `git@host:org/repo.git`,
/// or a local path (used by self-hosted runners and tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GitRemote(String);
string_value!(GitRemote);

impl GitRemote {
    pub const MAX_CHARS: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let remote = raw.trim();
        if remote.is_empty() {
            return Err(ValueError::EmptyRemote);
        }
        if remote.chars().count() > Self::MAX_CHARS {
            return Err(ValueError::RemoteTooLong {
                max: Self::MAX_CHARS,
            });
        }
        // A remote starting with `-` could be read by git as an option: never accept one.
        if remote.starts_with('-') || remote.chars().any(|c| c.is_control() || c == ' ') {
            return Err(ValueError::UnsupportedRemote(remote.to_string()));
        }
        let accepted = match remote.split_once("://") {
            Some((scheme, rest)) => {
                matches!(scheme, "https" | "http" | "ssh" | "git" | "file") && !rest.is_empty()
            }
            None => is_scp_like(remote) || is_path(remote),
        };
        if !accepted {
            return Err(ValueError::UnsupportedRemote(remote.to_string()));
        }
        Ok(Self(remote.to_string()))
    }
}

fn is_scp_like(remote: &str) -> bool {
    match remote.split_once(':') {
        Some((host, path)) => {
            !host.is_empty() && !path.is_empty() && !host.contains('/') && host.contains('@')
        }
        None => false,
    }
}

fn is_path(remote: &str) -> bool {
    remote.starts_with('/') || remote.starts_with("./") || remote.starts_with("../")
}

/// A branch name following the rules of `git check-ref-format --branch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GitBranch(String);
string_value!(GitBranch);

impl Default for GitBranch {
    fn default() -> Self {
        Self("main".to_string())
    }
}

impl GitBranch {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let branch = raw.trim();
        let invalid = branch.is_empty()
            || branch.len() > 255
            || branch.starts_with('-')
            || branch.starts_with('/')
            || branch.ends_with('/')
            || branch.ends_with('.')
            || branch.ends_with(".lock")
            || branch.contains("..")
            || branch.contains("//")
            || branch.contains("@{")
            || branch == "@"
            || branch
                .split('/')
                .any(|component| component.starts_with('.'))
            || branch.chars().any(|c| {
                c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
            });
        if invalid {
            return Err(ValueError::InvalidBranch(branch.to_string()));
        }
        Ok(Self(branch.to_string()))
    }
}

/// A commit id: 7 to 64 hexadecimal characters (SHA-1 or SHA-256 object names), lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GitCommit(String);
string_value!(GitCommit);

impl GitCommit {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let commit = raw.trim();
        if !(7..=64).contains(&commit.len()) || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ValueError::InvalidCommit(commit.to_string()));
        }
        Ok(Self(commit.to_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_of_every_supported_form_are_accepted() {
        for remote in [
            "https://github.com/acme/shop.git",
            "ssh://git@example.com/acme/shop.git",
            "git@github.com:acme/shop.git",
            "file:///srv/git/shop.git",
            "/srv/git/shop",
        ] {
            assert!(GitRemote::parse(remote).is_ok(), "{remote}");
        }
    }

    #[test]
    fn remotes_that_git_could_read_as_options_or_unknown_schemes_are_refused() {
        for remote in [
            "--upload-pack=touch /tmp/x",
            "ftp://x/y",
            "shop",
            "",
            "ext::sh -c x",
        ] {
            assert!(GitRemote::parse(remote).is_err(), "{remote}");
        }
    }

    #[test]
    fn branch_names_follow_git_rules() {
        assert!(GitBranch::parse("feature/login-2").is_ok());
        for bad in [
            "",
            "-x",
            "a..b",
            "a b",
            "x.lock",
            "a/.hidden",
            "refs~1",
            "@",
        ] {
            assert!(GitBranch::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commits_are_hex_and_normalised_to_lower_case() {
        assert_eq!(GitCommit::parse("ABCDEF1").unwrap().as_str(), "abcdef1");
        assert!(GitCommit::parse("abc").is_err());
        assert!(GitCommit::parse("zzzzzzz").is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ProjectName::parse("  Shop ").unwrap().as_str(), "Shop");
        assert_eq!(ProjectName::parse("   "), Err(ValueError::EmptyName));
        assert!(ProjectName::parse(&"x".repeat(201)).is_err());
    }
}
