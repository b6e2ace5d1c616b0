//! `security`: hard-coded secrets in every text file, and dangerous sinks in JS/TS.

pub mod secrets;
mod sinks;

use crate::detector::{Detector, FileSink, Needs};
use crate::js::ParsedJs;
use crate::source::SourceFile;

pub struct SecurityDetector;

/// Files made of hashes and checksums, where "high entropy" means nothing.
const CHECKSUM_FILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "Cargo.lock",
    "go.sum",
    "poetry.lock",
    "Pipfile.lock",
    "composer.lock",
    "Gemfile.lock",
];

impl Detector for SecurityDetector {
    fn name(&self) -> &'static str {
        "security"
    }

    fn description(&self) -> &'static str {
        "Hard-coded secrets (AWS, GitHub, GitLab, Slack, Stripe, npm, OpenAI, Google, Azure, \
         Twilio, SendGrid, private keys, JWTs, URL passwords, high-entropy values) and dangerous \
         JS/TS sinks (eval, Function, child_process, innerHTML, SQL concatenation, disabled TLS \
         verification, weak password hashes)"
    }

    fn needs(&self) -> Needs {
        Needs {
            js_syntax_tree: true,
            imports: false,
            files: false,
            js_syntax_errors: false,
        }
    }

    fn check_file(&self, file: &SourceFile<'_>, js: Option<&ParsedJs<'_>>, out: &mut FileSink<'_>) {
        let name = file.path.rsplit('/').next().unwrap_or(file.path);
        if !CHECKSUM_FILES.contains(&name) {
            report_secrets(file, out);
        }
        sinks::check_config_text(file, out);
        if let Some(js) = js {
            sinks::check(js, out);
        }
    }
}

fn report_secrets(file: &SourceFile<'_>, out: &mut FileSink<'_>) {
    let in_test_code_or_docs =
        secrets::is_test_path(file.path) || secrets::is_documentation_path(file.path);
    for found in secrets::scan(file.path, file.text) {
        let message = format!(
            "Hard-coded {} ({} characters, entropy {:.1} bits/char)",
            found.label,
            found.secret_end - found.secret_start,
            found.entropy
        );
        let finding = out.report(&found.rule, found.start, found.end, message);
        if in_test_code_or_docs {
            // Fixtures and docs often hold decoys and illustrations: still worth a look, with less
            // certainty.
            finding.confidence *= 0.6;
        }
    }
}

#[cfg(test)]
mod tests;
