//! Hard-coded secrets: our own rule set for the common providers plus a generic, entropy-checked
//! rule for values assigned to secret-sounding names.
//!
//! Speed comes from a keyword prefilter: one Aho-Corasick pass over the file finds which rules'
//! keywords occur, and only those rules' regexes run. Every candidate then passes allowlists
//! (placeholders, well-known documentation examples, low entropy) before it is reported.

use crate::detector::Rule;
use crate::finding::{Category, Severity};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;
use std::sync::LazyLock;

/// Which files a pattern applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    AllFiles,
    /// `.env`, YAML, TOML, INI, properties, shell: where values are written unquoted.
    ConfigFiles,
}

/// How a candidate value is checked before it is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Validation {
    /// The provider format is distinctive: only placeholders and repetitive values are dropped.
    ProviderFormat,
    /// A value whose only clue is its name: it must also look random.
    Generic,
}

/// One pattern of the rule set. Several patterns may share a rule (GitHub's classic and
/// fine-grained tokens are both `github-token`).
struct SecretPattern {
    rule: Rule,
    /// What the secret is, for messages ("GitHub token").
    label: &'static str,
    /// Lower-case words of which at least one must occur in the file for the regex to run.
    keywords: &'static [&'static str],
    /// Capture group 1 is the secret itself.
    regex: &'static str,
    /// Report the whole match rather than the secret (a private key's `BEGIN` line).
    report_whole_match: bool,
    /// A lower-case word that must occur somewhere in the file (an account id is only worth
    /// reporting in a file that talks about that provider).
    file_context: Option<&'static str>,
    scope: Scope,
    validation: Validation,
}

const SUGGESTION: &str = "Revoke and rotate this credential, then load it from the environment or \
                          a secret manager instead of the source.";

const fn secret_rule(id: &'static str, severity: Severity, confidence: f32) -> Rule {
    Rule::new(id, Category::Secrets, severity)
        .confidence(confidence)
        .suggest(SUGGESTION)
}

pub const AWS_ACCESS_KEY_ID: Rule = secret_rule("aws-access-key-id", Severity::High, 0.9);
pub const AWS_SECRET_ACCESS_KEY: Rule =
    secret_rule("aws-secret-access-key", Severity::Critical, 0.85);
pub const GITHUB_TOKEN: Rule = secret_rule("github-token", Severity::Critical, 0.95);
pub const GITLAB_TOKEN: Rule = secret_rule("gitlab-token", Severity::Critical, 0.95);
pub const SLACK_TOKEN: Rule = secret_rule("slack-token", Severity::High, 0.9);
pub const SLACK_WEBHOOK: Rule = secret_rule("slack-webhook-url", Severity::High, 0.9);
pub const STRIPE_SECRET_KEY: Rule = secret_rule("stripe-secret-key", Severity::Critical, 0.95);
pub const NPM_TOKEN: Rule = secret_rule("npm-token", Severity::Critical, 0.9);
pub const OPENAI_API_KEY: Rule = secret_rule("openai-api-key", Severity::Critical, 0.95);
pub const GOOGLE_API_KEY: Rule = secret_rule("google-api-key", Severity::High, 0.8);
pub const AZURE_STORAGE_KEY: Rule =
    secret_rule("azure-storage-account-key", Severity::Critical, 0.9);
pub const TWILIO_API_KEY: Rule = secret_rule("twilio-api-key", Severity::High, 0.8);
pub const TWILIO_ACCOUNT_SID: Rule = secret_rule("twilio-account-sid", Severity::Medium, 0.6);
pub const SENDGRID_API_KEY: Rule = secret_rule("sendgrid-api-key", Severity::Critical, 0.95);
pub const PRIVATE_KEY: Rule = secret_rule("private-key", Severity::Critical, 0.95);
pub const JWT: Rule = secret_rule("jwt", Severity::Medium, 0.7);
pub const URL_PASSWORD: Rule = secret_rule("url-with-password", Severity::High, 0.8);
pub const GENERIC_SECRET: Rule = secret_rule("generic-secret", Severity::High, 0.65);

const fn pattern(
    rule: Rule,
    label: &'static str,
    keywords: &'static [&'static str],
    regex: &'static str,
) -> SecretPattern {
    SecretPattern {
        rule,
        label,
        keywords,
        regex,
        report_whole_match: false,
        file_context: None,
        scope: Scope::AllFiles,
        validation: Validation::ProviderFormat,
    }
}

/// Names that hold secrets, as they appear in assignments, object keys and config keys.
macro_rules! secret_name {
    () => {
        r"[A-Za-z0-9_.\-]*(?:secret|token|passwd|password|passphrase|pwd|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|auth[_\-]?key|credentials?|client[_\-]?secret)[A-Za-z0-9_\-]*"
    };
}

const GENERIC_KEYWORDS: &[&str] = &[
    "secret",
    "token",
    "passwd",
    "password",
    "passphrase",
    "pwd",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "accesskey",
    "access-key",
    "private_key",
    "privatekey",
    "auth_key",
    "authkey",
    "credential",
];

static PATTERNS: LazyLock<Vec<SecretPattern>> = LazyLock::new(|| {
    vec![
        pattern(
            AWS_ACCESS_KEY_ID,
            "AWS access key ID",
            &["akia", "asia", "abia", "acca"],
            r"\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b",
        ),
        pattern(
            AWS_SECRET_ACCESS_KEY,
            "AWS secret access key",
            &["aws", "amazon"],
            r#"(?i)(?:aws|amazon)[\w.\-]{0,30}?(?:secret|private)[\w.\-]{0,30}["'`]?\s{0,5}(?::=|=>|=|:)\s{0,5}["'`]?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        ),
        pattern(
            GITHUB_TOKEN,
            "GitHub token",
            &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
            r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36})\b",
        ),
        pattern(
            GITHUB_TOKEN,
            "GitHub fine-grained token",
            &["github_pat_"],
            r"\b(github_pat_[A-Za-z0-9_]{82})\b",
        ),
        pattern(
            GITLAB_TOKEN,
            "GitLab personal access token",
            &["glpat-"],
            r"\b(glpat-[A-Za-z0-9_\-]{20,64})",
        ),
        pattern(
            SLACK_TOKEN,
            "Slack token",
            &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
            r"\b(xox[baprs]-[A-Za-z0-9\-]{10,250})",
        ),
        pattern(
            SLACK_WEBHOOK,
            "Slack webhook URL",
            &["hooks.slack.com"],
            r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+\-]{30,})",
        ),
        pattern(
            STRIPE_SECRET_KEY,
            "Stripe live secret key",
            &["sk_live_", "rk_live_"],
            r"\b((?:sk|rk)_live_[A-Za-z0-9]{20,247})\b",
        ),
        pattern(
            NPM_TOKEN,
            "npm access token",
            &["npm_"],
            r"\b(npm_[A-Za-z0-9]{36})\b",
        ),
        pattern(
            OPENAI_API_KEY,
            "OpenAI API key",
            &["t3blbkfj"],
            r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,})",
        ),
        pattern(
            OPENAI_API_KEY,
            "OpenAI project API key",
            &["sk-proj-"],
            r"\b(sk-proj-[A-Za-z0-9_\-]{80,})",
        ),
        pattern(
            GOOGLE_API_KEY,
            "Google API key",
            &["aiza"],
            r"\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)",
        ),
        pattern(
            AZURE_STORAGE_KEY,
            "Azure storage account key",
            &["accountkey"],
            r"(?i)AccountKey\s*=\s*([A-Za-z0-9+/]{86}==)",
        ),
        pattern(
            TWILIO_API_KEY,
            "Twilio API key",
            &["sk"],
            r"\b(SK[0-9a-fA-F]{32})\b",
        ),
        SecretPattern {
            file_context: Some("twilio"),
            ..pattern(
                TWILIO_ACCOUNT_SID,
                "Twilio account SID",
                &["ac"],
                r"\b(AC[0-9a-fA-F]{32})\b",
            )
        },
        pattern(
            SENDGRID_API_KEY,
            "SendGrid API key",
            &["sg."],
            r"\b(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})(?:[^A-Za-z0-9_\-]|$)",
        ),
        SecretPattern {
            report_whole_match: true,
            ..pattern(
                PRIVATE_KEY,
                "private key",
                &["private key"],
                r"-----BEGIN[ A-Z0-9]{0,20}PRIVATE KEY(?: BLOCK)?-----(?:\\r|\\n|\s|Proc-Type:[^\n]*|DEK-Info:[^\n]*|Version:[^\n]*)*([A-Za-z0-9+/=]{40,})",
            )
        },
        pattern(
            JWT,
            "JSON Web Token",
            &["eyj"],
            r"\b(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})",
        ),
        pattern(
            URL_PASSWORD,
            "password in a URL",
            &["://"],
            r#"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:@/'"`<>{}]{1,100}:([^\s:@/'"`<>{}$]{1,200})@[A-Za-z0-9._\-\[\]]+"#,
        ),
        SecretPattern {
            validation: Validation::Generic,
            ..pattern(
                GENERIC_SECRET,
                "hard-coded secret",
                GENERIC_KEYWORDS,
                concat!(
                    r#"(?i)\b("#,
                    secret_name!(),
                    r#")["'`]?\s{0,5}(?::=|=>|=|:)\s{0,5}["'`]([^"'`\s\\]{8,200})["'`]"#
                ),
            )
        },
        SecretPattern {
            validation: Validation::Generic,
            scope: Scope::ConfigFiles,
            ..pattern(
                GENERIC_SECRET,
                "hard-coded secret",
                GENERIC_KEYWORDS,
                concat!(
                    r#"(?im)^\s*(?:export\s+)?("#,
                    secret_name!(),
                    r#")\s*[=:]\s*([^\s"'`#]{8,200})\s*$"#
                ),
            )
        },
    ]
});

struct Scanner {
    regexes: Vec<Regex>,
    keywords: AhoCorasick,
    /// For each keyword, the patterns it enables.
    keyword_patterns: Vec<Vec<usize>>,
}

static SCANNER: LazyLock<Scanner> = LazyLock::new(|| {
    let patterns = &*PATTERNS;
    let regexes = patterns
        .iter()
        // ASCII word boundaries: a Unicode `\b` makes the regex engine give up its DFA on the
        // first non-ASCII byte and fall back to the PikeVM, several times slower (measured by
        // `insight bench detectors`). Secrets are ASCII, so nothing is lost.
        .map(|pattern| {
            Regex::new(&pattern.regex.replace(r"\b", r"(?-u:\b)"))
                .expect("secret patterns are valid regexes")
        })
        .collect();
    let mut keywords: Vec<&str> = Vec::new();
    let mut keyword_patterns: Vec<Vec<usize>> = Vec::new();
    for (index, pattern) in patterns.iter().enumerate() {
        for keyword in pattern.keywords {
            match keywords.iter().position(|known| known == keyword) {
                Some(position) => keyword_patterns[position].push(index),
                None => {
                    keywords.push(keyword);
                    keyword_patterns.push(vec![index]);
                }
            }
        }
    }
    let keywords = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(&keywords)
        .expect("secret keywords build an automaton");
    Scanner {
        regexes,
        keywords,
        keyword_patterns,
    }
});

/// A secret found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretMatch {
    pub rule: Rule,
    pub label: &'static str,
    /// Byte range to report.
    pub start: usize,
    pub end: usize,
    /// Byte range of the secret value itself (what redaction hides).
    pub secret_start: usize,
    pub secret_end: usize,
    /// Shannon entropy of the value, in bits per character.
    pub entropy: f64,
}

/// Finds the secrets in `text`, a file at `path` (the path decides the config-file patterns and
/// lowers confidence for test fixtures). Overlapping matches keep the most specific rule.
pub fn scan(path: &str, text: &str) -> Vec<SecretMatch> {
    let config_file = is_config_file(path);
    let mut found = candidates(text, |pattern| match pattern.scope {
        Scope::AllFiles => true,
        Scope::ConfigFiles => config_file,
    })
    .into_iter()
    .filter(|(index, candidate)| {
        let pattern = &PATTERNS[*index];
        let value = &text[candidate.secret_start..candidate.secret_end];
        let context_present = pattern
            .file_context
            .is_none_or(|word| contains_ignore_ascii_case(text, word));
        context_present
            && !is_placeholder(value)
            && match pattern.validation {
                Validation::ProviderFormat => !is_repetitive(value),
                Validation::Generic => {
                    let name = candidate.name.map_or("", |(start, end)| &text[start..end]);
                    looks_like_generic_secret(name, value)
                }
            }
    })
    .map(|(_, candidate)| candidate.into_match())
    .collect::<Vec<_>>();

    // Provider rules come first in the list; a generic match over the same value adds nothing.
    found.sort_by_key(|found| (found.secret_start, found.rule.id == GENERIC_SECRET.id));
    let mut kept: Vec<SecretMatch> = Vec::with_capacity(found.len());
    for candidate in found {
        let overlaps = kept.iter().any(|existing| {
            candidate.secret_start < existing.secret_end
                && existing.secret_start < candidate.secret_end
        });
        if !overlaps {
            kept.push(candidate);
        }
    }
    kept
}

/// Replaces every secret-looking value on a line with its first four characters and `****`.
/// Deliberately broader than [`scan`]: placeholders and low-entropy values are hidden too, since
/// showing too little in a snippet costs nothing.
pub fn redact_line(line: &str) -> String {
    let mut ranges: Vec<(usize, usize)> = candidates(line, |_| true)
        .into_iter()
        .map(|(_, candidate)| (candidate.secret_start, candidate.secret_end))
        .collect();
    if ranges.is_empty() {
        return line.to_owned();
    }
    ranges.sort_unstable();
    let mut redacted = String::with_capacity(line.len());
    let mut position = 0;
    for (start, end) in ranges {
        if start < position {
            continue;
        }
        redacted.push_str(&line[position..start]);
        redacted.extend(line[start..end].chars().take(4));
        redacted.push_str("****");
        position = end;
    }
    redacted.push_str(&line[position..]);
    redacted
}

struct Candidate {
    rule: Rule,
    label: &'static str,
    start: usize,
    end: usize,
    secret_start: usize,
    secret_end: usize,
    /// For the generic patterns, where the secret-sounding name is.
    name: Option<(usize, usize)>,
    entropy: f64,
}

impl Candidate {
    fn into_match(self) -> SecretMatch {
        SecretMatch {
            rule: self.rule,
            label: self.label,
            start: self.start,
            end: self.end,
            secret_start: self.secret_start,
            secret_end: self.secret_end,
            entropy: self.entropy,
        }
    }
}

fn candidates(text: &str, applies: impl Fn(&SecretPattern) -> bool) -> Vec<(usize, Candidate)> {
    let scanner = &*SCANNER;
    let mut enabled = vec![false; PATTERNS.len()];
    for found in scanner.keywords.find_overlapping_iter(text) {
        for &index in &scanner.keyword_patterns[found.pattern().as_usize()] {
            enabled[index] = true;
        }
    }
    let mut candidates = Vec::new();
    for (index, pattern) in PATTERNS.iter().enumerate() {
        if !enabled[index] || !applies(pattern) {
            continue;
        }
        for captures in scanner.regexes[index].captures_iter(text) {
            let whole = captures.get(0).expect("group 0 always matches");
            // Generic patterns capture the name first and the value last.
            let value_group = captures.len() - 1;
            let Some(secret) = captures.get(value_group) else {
                continue;
            };
            let name = (value_group > 1)
                .then(|| captures.get(1))
                .flatten()
                .map(|name| (name.start(), name.end()));
            let (start, end) = if pattern.report_whole_match {
                (whole.start(), whole.end())
            } else {
                (secret.start(), secret.end())
            };
            candidates.push((
                index,
                Candidate {
                    rule: pattern.rule,
                    label: pattern.label,
                    start,
                    end,
                    secret_start: secret.start(),
                    secret_end: secret.end(),
                    name,
                    entropy: shannon_entropy(secret.as_str()),
                },
            ));
        }
    }
    candidates
}

/// Shannon entropy in bits per character: about 2 for English words, 4 to 6 for random keys.
pub fn shannon_entropy(value: &str) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for byte in value.bytes() {
        counts[byte as usize] += 1;
    }
    let length = value.len() as f64;
    counts
        .iter()
        .filter(|count| **count > 0)
        .map(|count| {
            let probability = *count as f64 / length;
            -probability * probability.log2()
        })
        .sum()
}

/// Words that mark a value as a stand-in rather than a real credential.
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "change_me",
    "change-me",
    "changethis",
    "example",
    "sample",
    "dummy",
    "placeholder",
    "your_",
    "your-",
    "yourkey",
    "yourtoken",
    "yourpass",
    "xxxx",
    "****",
    "....",
    "test",
    "fake",
    "mock",
    "redacted",
    "replace",
    "insert",
    "todo",
    "fixme",
    "secret",
    "password",
    "passwd",
    // "user:pass@host" and friends in documentation.
    "pass",
    "foobar",
    "lorem",
    "undefined",
    "null",
    "demo",
    "default",
    "abcdef",
    "123456",
];

/// The well-known example values published by providers and jwt.io.
const DOCUMENTED_EXAMPLES: &[&str] = &[
    // jwt.io's sample token signature.
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    // The Azure storage emulator's published account key.
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
];

/// Placeholders: template references (`${X}`, `{{x}}`, `<x>`, `%(x)s`, `$X`), masked values,
/// and values containing a stand-in word.
pub fn is_placeholder(value: &str) -> bool {
    let trimmed = value.trim_matches(|c| c == '"' || c == '\'' || c == '`');
    if trimmed.starts_with('$')
        || trimmed.starts_with("{{")
        || trimmed.starts_with("%(")
        || trimmed.starts_with("#{")
        || (trimmed.starts_with('<') && trimmed.ends_with('>'))
        || trimmed.contains("${")
    {
        return true;
    }
    if DOCUMENTED_EXAMPLES
        .iter()
        .any(|example| value.contains(example))
    {
        return true;
    }
    let lower = trimmed.to_ascii_lowercase();
    PLACEHOLDER_WORDS.iter().any(|word| lower.contains(word)) || is_repetitive(trimmed)
}

/// One repeated character, or mostly consecutive runs like `abcdefgh` / `12345678`.
fn is_repetitive(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() < 2 {
        return true;
    }
    let distinct = {
        let mut seen = [false; 256];
        bytes
            .iter()
            .filter(|byte| !std::mem::replace(&mut seen[**byte as usize], true))
            .count()
    };
    if distinct <= 2 {
        return true;
    }
    let consecutive = bytes
        .windows(2)
        .filter(|pair| pair[1] == pair[0].wrapping_add(1))
        .count();
    consecutive * 2 > bytes.len()
}

/// Name fragments that mean "about a secret" rather than "is a secret" (`passwordField`,
/// `token_url`, `api_key_header`, `publicKey`).
const NON_SECRET_NAME_PARTS: &[&str] = &[
    "url",
    "uri",
    "endpoint",
    "path",
    "file",
    "dir",
    "name",
    "label",
    "field",
    "placeholder",
    "type",
    "header",
    "length",
    "pattern",
    "regex",
    "prefix",
    "suffix",
    "format",
    "mode",
    "hint",
    "message",
    "error",
    "text",
    "title",
    "description",
    "count",
    "expires",
    "expiry",
    "ttl",
    "timeout",
    "policy",
    "strength",
    "public",
    "publishable",
    "input",
    "route",
    "param",
    "class",
    "selector",
    "key_id",
    "keyid",
    "event",
    "storage",
    "cookie",
    "encoding",
    "algorithm",
];

fn looks_like_generic_secret(name: &str, value: &str) -> bool {
    let name_lower = name.to_ascii_lowercase();
    if NON_SECRET_NAME_PARTS
        .iter()
        .any(|part| name_lower.contains(part))
    {
        return false;
    }
    let value_lower = value.to_ascii_lowercase();
    if value_lower == name_lower
        || value.starts_with('/')
        || value.starts_with("./")
        || value.contains("://")
        || value_lower.starts_with("process.env")
        || value_lower.starts_with("os.environ")
        || value_lower.starts_with("env.")
    {
        return false;
    }
    // i18n keys and dotted identifiers: `auth.password.required`, `user_token.value`.
    if value
        .split(['.', '_', '-', ':'])
        .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase()))
    {
        return false;
    }
    let has_digit = value.chars().any(|c| c.is_ascii_digit());
    let has_letter = value.chars().any(|c| c.is_ascii_alphabetic());
    // Words and camelCase identifiers (`MySessionName`) are not secrets; random keys of 20 or
    // more letters are allowed through on entropy alone.
    if !has_digit && value.len() < 20 {
        return false;
    }
    if !has_letter {
        // Numbers alone (ports, ids, timestamps) are not credentials.
        return false;
    }
    let length = value.chars().count() as f64;
    let threshold = (0.85 * length.log2()).min(3.5);
    shannon_entropy(value) >= threshold
}

fn is_config_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let extension = name.rsplit_once('.').map(|(_, ext)| ext).unwrap_or("");
    name.starts_with(".env")
        || name == "dockerfile"
        || name.ends_with(".env")
        || matches!(
            extension,
            "yaml" | "yml" | "toml" | "ini" | "cfg" | "conf" | "properties" | "sh" | "bash" | "zsh"
        )
}

fn contains_ignore_ascii_case(haystack: &str, lower_needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(lower_needle.len())
        .any(|window| window.eq_ignore_ascii_case(lower_needle.as_bytes()))
}

/// Documentation, where credentials are usually illustrations.
pub fn is_documentation_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".md", ".mdx", ".rst", ".txt", ".adoc"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Paths of tests, fixtures and examples, where a secret is more often a deliberate decoy.
pub fn is_test_path(path: &str) -> bool {
    path.to_ascii_lowercase().split('/').any(|part| {
        [
            "test",
            "tests",
            "__tests__",
            "spec",
            "fixtures",
            "fixture",
            "examples",
            "example",
            "mocks",
            "__mocks__",
        ]
        .contains(&part)
            || part.contains(".test.")
            || part.contains(".spec.")
            || part.contains("_test.")
    })
}
