//! Shallow git fetches into a temporary folder that is always removed. Nothing in the fetched
//! repository can run: hooks are pointed at /dev/null, no fsmonitor, no system or user git
//! configuration, no prompts, only the https/http/ssh/git/file transports, and the whole fetch
//! is bounded in time (the process is killed) and in size.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use application::jobs::{FetchedSource, SourceError, SourceFetcher};
use async_trait::async_trait;
use domain::analysis::AnalysisSource;
use tokio::process::Command;

#[derive(Debug, Clone)]
pub struct GitLimits {
    /// The whole fetch and checkout.
    pub timeout: Duration,
    /// The checked-out tree, in bytes.
    pub max_bytes: u64,
}

impl Default for GitLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(120),
            max_bytes: 512 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct GitSourceFetcher {
    limits: GitLimits,
}

/// Settings on every git invocation: nothing from the repository or the machine may execute.
const SAFE_CONFIG: &[&str] = &[
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "protocol.allow=never",
    "-c",
    "protocol.https.allow=always",
    "-c",
    "protocol.http.allow=always",
    "-c",
    "protocol.ssh.allow=always",
    "-c",
    "protocol.git.allow=always",
    "-c",
    "protocol.file.allow=always",
    "-c",
    "advice.detachedHead=false",
];

impl GitSourceFetcher {
    pub fn new(limits: GitLimits) -> Self {
        Self { limits }
    }

    async fn git(&self, dir: &Path, args: &[&str]) -> Result<String, SourceError> {
        let output = Command::new("git")
            .args(SAFE_CONFIG)
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_ASKPASS", "/bin/false")
            .env("SSH_ASKPASS", "/bin/false")
            .env(
                "GIT_SSH_COMMAND",
                "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
            )
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|error| SourceError(format!("cannot run git: {error}")))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason = stderr
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("git failed")
                .trim()
                .trim_start_matches("fatal: ")
                .to_string();
            Err(SourceError(reason))
        }
    }

    async fn fetch_into(
        &self,
        dir: &Path,
        remote: &str,
        branch: &str,
        commit: Option<&str>,
    ) -> Result<String, SourceError> {
        self.git(dir, &["init", "--quiet"]).await?;
        let wanted = commit.unwrap_or(branch);
        // `--` ends the options: a remote or ref can never be read as one.
        self.git(
            dir,
            &[
                "fetch",
                "--quiet",
                "--depth",
                "1",
                "--no-tags",
                "--",
                remote,
                wanted,
            ],
        )
        .await
        .map_err(|error| match commit {
            Some(commit) => SourceError(format!(
                "cannot fetch commit {commit} from the repository: {}",
                error.0
            )),
            None => SourceError(format!(
                "cannot fetch branch `{branch}` from the repository: {}",
                error.0
            )),
        })?;
        self.git(dir, &["checkout", "--quiet", "--detach", "FETCH_HEAD"])
            .await?;
        self.git(dir, &["rev-parse", "HEAD"]).await
    }
}

fn tree_size(root: &Path, limit: u64) -> Result<u64, SourceError> {
    let mut total = 0u64;
    let mut pending: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|error| SourceError(format!("cannot read the checkout: {error}")))?;
        for entry in entries.flatten() {
            let Ok(metadata) = entry.path().symlink_metadata() else {
                continue;
            };
            if metadata.is_dir() {
                pending.push(entry.path());
            } else {
                total += metadata.len();
                if total > limit {
                    return Err(SourceError(format!(
                        "the source is larger than the limit of {} MiB",
                        limit / (1024 * 1024)
                    )));
                }
            }
        }
    }
    Ok(total)
}

#[async_trait]
impl SourceFetcher for GitSourceFetcher {
    async fn fetch(&self, source: &AnalysisSource) -> Result<FetchedSource, SourceError> {
        let AnalysisSource::Git {
            git_remote,
            git_branch,
            git_commit,
        } = source
        else {
            return Err(SourceError("not a git source".into()));
        };
        let dir = tempfile::Builder::new()
            .prefix("insight-source-")
            .tempdir()
            .map_err(|error| SourceError(format!("cannot make a temporary folder: {error}")))?;
        let fetch = self.fetch_into(dir.path(), git_remote, git_branch, git_commit.as_deref());
        let commit = tokio::time::timeout(self.limits.timeout, fetch)
            .await
            .map_err(|_| {
                SourceError(format!(
                    "fetching the repository took longer than {} s",
                    self.limits.timeout.as_secs()
                ))
            })??;
        let root = dir.path().to_path_buf();
        let limit = self.limits.max_bytes;
        let checked = root.clone();
        tokio::task::spawn_blocking(move || tree_size(&checked, limit))
            .await
            .map_err(|error| SourceError(format!("size check failed: {error}")))??;
        Ok(FetchedSource {
            root,
            commit: Some(commit),
            guard: Box::new(dir),
        })
    }
}
