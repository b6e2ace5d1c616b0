//! `network`: insecure or hard-coded network endpoints. In every source and configuration file:
//! plain `http://` and `ws://` URLs to hosts that are not local or reserved for examples, TLS
//! certificate checks turned off, protocol versions below TLS 1.2, and hard-coded public IPv4
//! addresses. On the JS/TS tree: `fetch` without an abort signal and `axios.create` without a
//! timeout (a stalled peer then holds the request forever).
//!
//! Node's `rejectUnauthorized: false` and `NODE_TLS_REJECT_UNAUTHORIZED=0` are the `security`
//! detector's (on the JS tree and in config files), so they are not reported twice.
//!
//! The text scan looks for a handful of fixed strings with one Aho-Corasick automaton and only
//! then inspects the line, so files without any of them cost one pass over their bytes.

use crate::detector::{Detector, FileSink, Needs, Rule};
use crate::finding::{Category, Severity};
use crate::js::ParsedJs;
use crate::source::{Language, SourceFile};
use aho_corasick::{AhoCorasick, MatchKind};
use oxc_ast::ast::{Argument, Expression, ObjectPropertyKind};
use oxc_ast::AstKind;
use oxc_span::GetSpan;
use std::sync::OnceLock;

pub const INSECURE_HTTP: Rule =
    Rule::new("insecure-http-url", Category::Security, Severity::Medium)
        .confidence(0.7)
        .suggest("Use https:// so the traffic is encrypted and the server authenticated.");
pub const INSECURE_WEBSOCKET: Rule =
    Rule::new("insecure-websocket", Category::Security, Severity::Medium)
        .confidence(0.75)
        .suggest("Use wss:// so the socket is encrypted and the server authenticated.");
pub const TLS_VERIFICATION_DISABLED: Rule = Rule::new(
    "tls-verification-disabled",
    Category::Security,
    Severity::High,
)
.confidence(0.9)
.suggest(
    "Keep certificate verification on; trust a private CA explicitly instead of trusting everyone.",
);
pub const TLS_DOWNGRADE: Rule = Rule::new("tls-downgrade", Category::Security, Severity::High)
    .confidence(0.85)
    .suggest("Require TLS 1.2 or later: SSLv3, TLS 1.0 and TLS 1.1 are broken and disabled by modern peers.");
pub const HARDCODED_IP: Rule = Rule::new("hardcoded-ip", Category::Suspicious, Severity::Low)
    .confidence(0.6)
    .suggest("Read the address from configuration or use a host name: hard-coded addresses break when the peer moves.");
pub const REQUEST_WITHOUT_TIMEOUT: Rule =
    Rule::new("request-without-timeout", Category::Suspicious, Severity::Low)
        .confidence(0.6)
        .suggest("Pass a timeout (for fetch: `signal: AbortSignal.timeout(ms)`) so a stalled peer cannot hold the request forever.");

pub const RULES: &[Rule] = &[
    INSECURE_HTTP,
    INSECURE_WEBSOCKET,
    TLS_VERIFICATION_DISABLED,
    TLS_DOWNGRADE,
    HARDCODED_IP,
    REQUEST_WITHOUT_TIMEOUT,
];

#[derive(Clone, Copy)]
enum Trigger {
    Http,
    WebSocket,
    /// The pattern alone is the finding when the rest of the line confirms it.
    Tls {
        rule: &'static Rule,
        confirm: &'static [&'static str],
        message: &'static str,
    },
}

const TLS_PATTERNS: &[(&str, Trigger)] = &[
    (
        "strictSSL",
        Trigger::Tls {
            rule: &TLS_VERIFICATION_DISABLED,
            confirm: &["false"],
            message: "TLS certificate verification is turned off (strictSSL: false)",
        },
    ),
    (
        "verify=False",
        Trigger::Tls {
            rule: &TLS_VERIFICATION_DISABLED,
            confirm: &[""],
            message: "TLS certificate verification is turned off (verify=False)",
        },
    ),
    (
        "InsecureSkipVerify",
        Trigger::Tls {
            rule: &TLS_VERIFICATION_DISABLED,
            confirm: &["true"],
            message: "TLS certificate verification is turned off (InsecureSkipVerify: true)",
        },
    ),
    (
        "danger_accept_invalid_certs",
        Trigger::Tls {
            rule: &TLS_VERIFICATION_DISABLED,
            confirm: &["true"],
            message: "TLS certificate verification is turned off (danger_accept_invalid_certs)",
        },
    ),
    (
        "_create_unverified_context",
        Trigger::Tls {
            rule: &TLS_VERIFICATION_DISABLED,
            confirm: &[""],
            message: "TLS certificate verification is turned off (unverified SSL context)",
        },
    ),
    (
        "NoopHostnameVerifier",
        Trigger::Tls {
            rule: &TLS_VERIFICATION_DISABLED,
            confirm: &[""],
            message: "TLS host name verification is turned off",
        },
    ),
    (
        "ALLOW_ALL_HOSTNAME_VERIFIER",
        Trigger::Tls {
            rule: &TLS_VERIFICATION_DISABLED,
            confirm: &[""],
            message: "TLS host name verification is turned off",
        },
    ),
    (
        "TLSv1_method",
        Trigger::Tls {
            rule: &TLS_DOWNGRADE,
            confirm: &[""],
            message: "TLS 1.0 is forced",
        },
    ),
    (
        "TLSv1_1_method",
        Trigger::Tls {
            rule: &TLS_DOWNGRADE,
            confirm: &[""],
            message: "TLS 1.1 is forced",
        },
    ),
    (
        "SSLv3_method",
        Trigger::Tls {
            rule: &TLS_DOWNGRADE,
            confirm: &[""],
            message: "SSLv3 is forced",
        },
    ),
    (
        "PROTOCOL_TLSv1",
        Trigger::Tls {
            rule: &TLS_DOWNGRADE,
            confirm: &[""],
            message: "TLS below 1.2 is selected",
        },
    ),
    (
        "PROTOCOL_SSLv",
        Trigger::Tls {
            rule: &TLS_DOWNGRADE,
            confirm: &[""],
            message: "SSL is selected",
        },
    ),
    (
        "VersionTLS10",
        Trigger::Tls {
            rule: &TLS_DOWNGRADE,
            confirm: &[""],
            message: "TLS 1.0 is allowed",
        },
    ),
    (
        "VersionTLS11",
        Trigger::Tls {
            rule: &TLS_DOWNGRADE,
            confirm: &[""],
            message: "TLS 1.1 is allowed",
        },
    ),
    (
        "minVersion",
        Trigger::Tls {
            rule: &TLS_DOWNGRADE,
            confirm: &["'TLSv1'", "\"TLSv1\"", "'TLSv1.1'", "\"TLSv1.1\""],
            message: "TLS below 1.2 is allowed",
        },
    ),
];

struct Scanner {
    automaton: AhoCorasick,
    triggers: Vec<Trigger>,
}

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        let mut patterns: Vec<&str> = vec!["http://", "ws://"];
        let mut triggers = vec![Trigger::Http, Trigger::WebSocket];
        for (pattern, trigger) in TLS_PATTERNS {
            patterns.push(pattern);
            triggers.push(*trigger);
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(&patterns)
            .expect("fixed patterns build");
        Scanner {
            automaton,
            triggers,
        }
    })
}

pub struct NetworkDetector;

impl Detector for NetworkDetector {
    fn name(&self) -> &'static str {
        "network"
    }

    fn description(&self) -> &'static str {
        "Insecure or hard-coded endpoints: http:// and ws:// URLs, TLS checks off or downgraded, public IPs, requests without timeout"
    }

    fn needs(&self) -> Needs {
        Needs {
            js_syntax_tree: true,
            ..Needs::default()
        }
    }

    fn check_file(&self, file: &SourceFile<'_>, js: Option<&ParsedJs<'_>>, out: &mut FileSink<'_>) {
        if !is_scanned(file) {
            return;
        }
        scan_text(file.text, file.language != Language::Other, out);
        scan_ips(file.text, out);
        if let Some(js) = js.filter(|js| !js.panicked) {
            check_requests(js, out);
        }
    }
}

/// Code and configuration; not prose, markup, lockfiles or test fixtures of other formats.
fn is_scanned(file: &SourceFile<'_>) -> bool {
    let name = file.path.rsplit('/').next().unwrap_or(file.path);
    if file.language != Language::Other {
        // Manifests hold home pages and repository links, not endpoints.
        return !matches!(name, "package.json" | "package-lock.json" | "composer.json")
            && !name.ends_with(".min.js");
    }
    let extension = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    matches!(
        extension,
        "yml"
            | "yaml"
            | "toml"
            | "env"
            | "ini"
            | "properties"
            | "cfg"
            | "conf"
            | "sh"
            | "rb"
            | "php"
            | "cs"
            | "kt"
            | "swift"
            | "c"
            | "h"
            | "cpp"
            | "vue"
            | "svelte"
    ) || name.starts_with(".env")
        || name == "Dockerfile"
}

fn line_bounds(text: &str, at: usize) -> (usize, usize) {
    let start = text[..at].rfind('\n').map_or(0, |index| index + 1);
    let end = text[at..].find('\n').map_or(text.len(), |index| at + index);
    (start, end)
}

/// Whether `at` lies in a comment that starts earlier on its line (`//`, `#`, `/*`, `*`, `<!--`).
fn in_line_comment(text: &str, line_start: usize, at: usize) -> bool {
    let before = &text[line_start..at];
    let trimmed = before.trim_start();
    if ["//", "#", "/*", "*", "<!--", "--", ";"]
        .iter()
        .any(|marker| trimmed.starts_with(marker))
    {
        return true;
    }
    // A `//` that is not the one of a URL (`https://`) starts a trailing comment.
    before
        .match_indices("//")
        .any(|(index, _)| index == 0 || before.as_bytes()[index - 1] != b':')
        || before.contains(" # ")
}

/// `quoted`: a language with string literals (code, JSON), where an endpoint is a whole string
/// or an assignment's value; a URL after other text is a link in a message or a comment.
fn scan_text(text: &str, quoted: bool, out: &mut FileSink<'_>) {
    let scanner = scanner();
    let mut last_line = usize::MAX;
    let mut reported_on_line: Vec<&'static str> = Vec::new();
    for found in scanner.automaton.find_iter(text) {
        let (line_start, line_end) = line_bounds(text, found.start());
        if line_start != last_line {
            last_line = line_start;
            reported_on_line.clear();
        }
        if in_line_comment(text, line_start, found.start()) {
            continue;
        }
        let line = &text[line_start..line_end];
        match scanner.triggers[found.pattern().as_usize()] {
            Trigger::Http | Trigger::WebSocket => {
                let before = text[..found.start()].bytes().next_back().unwrap_or(b'"');
                if quoted && !matches!(before, b'"' | b'\'' | b'`' | b'=') {
                    continue;
                }
                let websocket = text[found.start()..].starts_with("ws://");
                let host_start = found.end();
                let host_end = text[host_start..line_end]
                    .find(|c: char| {
                        matches!(
                            c,
                            '/' | '?'
                                | '#'
                                | '"'
                                | '\''
                                | '`'
                                | ' '
                                | ')'
                                | '>'
                                | '<'
                                | ','
                                | ']'
                                | '\\'
                        )
                    })
                    .map_or(line_end, |index| host_start + index);
                let authority = &text[host_start..host_end];
                // Credentials never reach here: `user:pass@` is the security detector's.
                let host = authority.rsplit('@').next().unwrap_or(authority);
                let host = strip_port(host);
                if !is_remote_host(host) {
                    continue;
                }
                let (rule, scheme) = if websocket {
                    (&INSECURE_WEBSOCKET, "ws")
                } else {
                    (&INSECURE_HTTP, "http")
                };
                if reported_on_line.contains(&rule.id) {
                    continue;
                }
                reported_on_line.push(rule.id);
                out.report(
                    rule,
                    found.start(),
                    host_end,
                    format!("Unencrypted {scheme}:// connection to '{host}'"),
                );
            }
            Trigger::Tls {
                rule,
                confirm,
                message,
            } => {
                let rest = &line[found.end() - line_start..];
                let window = &rest[..rest.len().min(40)];
                let compact: String = window.split_whitespace().collect();
                if !confirm.iter().any(|value| compact.contains(value)) {
                    continue;
                }
                if reported_on_line.contains(&rule.id) {
                    continue;
                }
                reported_on_line.push(rule.id);
                out.report(rule, found.start(), found.end(), message);
            }
        }
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.split(':').next().unwrap_or(host)
}

/// A host on the internet: not loopback, private, reserved for documentation or examples,
/// not a single-label name (service names inside a cluster or compose file), and not an XML
/// or schema namespace (identifiers that are never fetched).
fn is_remote_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty()
        || !host.contains('.')
        || host.contains(['$', '{', '%', '<', '*', '+'])
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
    {
        return false;
    }
    if let Some(address) = parse_ipv4(&host) {
        return is_public_ipv4(address);
    }
    const LOCAL_SUFFIXES: &[&str] = &[
        ".localhost",
        ".local",
        ".test",
        ".example",
        ".invalid",
        ".internal",
        ".lan",
        ".home.arpa",
        ".example.com",
        ".example.org",
        ".example.net",
    ];
    const NAMESPACE_HOSTS: &[&str] = &[
        "example.com",
        "example.org",
        "example.net",
        "w3.org",
        "www.w3.org",
        "json-schema.org",
        "purl.org",
        "xmlns.com",
        "ns.adobe.com",
        "schemas.xmlsoap.org",
        "schemas.microsoft.com",
        "schemas.openxmlformats.org",
        "java.sun.com",
        "xml.org",
        "www.apache.org",
        "apache.org",
        "www.opensource.org",
        "opensource.org",
        "www.gnu.org",
        "gnu.org",
        "relaxng.org",
        "www.opengis.net",
        "docbook.org",
        "www.springframework.org",
        "maven.apache.org",
        "xml.apache.org",
        "www.xml.org",
        "microsoft.com",
        "dublincore.org",
        "ogp.me",
        "schema.org",
        "openoffice.org",
        "www.idpf.org",
        "collada.org",
    ];
    !LOCAL_SUFFIXES.iter().any(|suffix| host.ends_with(suffix))
        && !NAMESPACE_HOSTS.contains(&host.as_str())
        && !host.starts_with("schemas.")
        && !host.starts_with("xmlns.")
}

fn parse_ipv4(text: &str) -> Option<[u8; 4]> {
    let mut parts = [0u8; 4];
    let mut count = 0;
    for part in text.split('.') {
        if count == 4
            || part.is_empty()
            || part.len() > 3
            || (part.len() > 1 && part.starts_with('0'))
        {
            return None;
        }
        parts[count] = part.parse().ok()?;
        count += 1;
    }
    (count == 4).then_some(parts)
}

fn is_public_ipv4([a, b, c, _]: [u8; 4]) -> bool {
    !(a == 0
        || a == 10
        || a == 127
        || a >= 224
        || (a == 169 && b == 254)
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 168)
        || (a == 100 && (64..=127).contains(&b))
        // Documentation ranges (RFC 5737) and benchmarking (RFC 2544).
        || (a == 192 && b == 0 && c == 2)
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || (a == 198 && (18..=19).contains(&b)))
}

/// Public IPv4 addresses written inside quotes or after `@`/`//` (host position); dotted
/// numbers elsewhere are versions or OIDs.
fn scan_ips(text: &str, out: &mut FileSink<'_>) {
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        // Cheap skip: an address starts with a digit right after a quote, `@` or `/`.
        let Some(offset) = memchr_any(&bytes[index..]) else {
            break;
        };
        let start = index + offset + 1;
        index = start;
        if start >= bytes.len() || !bytes[start].is_ascii_digit() {
            continue;
        }
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|byte| byte.is_ascii_digit() || **byte == b'.')
                .count();
        let candidate = &text[start..end];
        let Some(address) = parse_ipv4(candidate) else {
            continue;
        };
        let next = bytes.get(end).copied().unwrap_or(b'"');
        if !matches!(next, b'"' | b'\'' | b'`' | b':' | b'/') || !is_public_ipv4(address) {
            continue;
        }
        let (line_start, _) = line_bounds(text, start);
        if in_line_comment(text, line_start, start) {
            continue;
        }
        out.report(
            &HARDCODED_IP,
            start,
            end,
            format!("Hard-coded public IP address {candidate}"),
        );
        index = end;
    }
}

fn memchr_any(bytes: &[u8]) -> Option<usize> {
    bytes
        .iter()
        .position(|byte| matches!(byte, b'"' | b'\'' | b'`' | b'@' | b'/'))
}

/// `fetch(url)` and `fetch(url, { ... })` without `signal`, and `axios.create({ ... })` without
/// `timeout`, where `fetch` and `axios` are the global or imported ones.
fn check_requests(js: &ParsedJs<'_>, out: &mut FileSink<'_>) {
    let text = js.source_text();
    if !(text.contains("fetch(") || text.contains("axios.create(")) {
        return;
    }
    for node in js.semantic.nodes().iter() {
        let AstKind::CallExpression(call) = node.kind() else {
            continue;
        };
        let (needed, what) = match call.callee.get_inner_expression() {
            Expression::Identifier(identifier)
                if identifier.name == "fetch"
                    && js.semantic.is_reference_to_global_variable(identifier) =>
            {
                ("signal", "fetch")
            }
            Expression::StaticMemberExpression(member)
                if member.property.name == "create"
                    && matches!(&member.object, Expression::Identifier(object) if object.name == "axios") =>
            {
                ("timeout", "axios.create")
            }
            _ => continue,
        };
        let options = if what == "fetch" {
            call.arguments.get(1)
        } else {
            call.arguments.first()
        };
        let has_option = match options {
            None => false,
            Some(Argument::ObjectExpression(object)) => {
                object.properties.iter().any(|property| match property {
                    ObjectPropertyKind::SpreadProperty(_) => true,
                    ObjectPropertyKind::ObjectProperty(property) => property
                        .key
                        .static_name()
                        .is_some_and(|name| name == needed),
                })
            }
            // Options built elsewhere: cannot tell.
            Some(_) => true,
        };
        // `fetch(request)`: a Request object may carry its own signal.
        let literal_url = matches!(
            call.arguments.first(),
            Some(Argument::StringLiteral(_) | Argument::TemplateLiteral(_))
        );
        if what == "fetch" && (call.arguments.is_empty() || (options.is_none() && !literal_url)) {
            continue;
        }
        if !has_option {
            out.report(
                &REQUEST_WITHOUT_TIMEOUT,
                call.span.start as usize,
                call.callee.span().end as usize,
                format!("{what}() without a {needed}: a stalled server holds the request forever"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check;

    fn ids(path: &str, text: &str) -> Vec<String> {
        let mut findings = check(&NetworkDetector, path, text);
        findings.sort_by_key(|finding| (finding.line, finding.column));
        findings
            .into_iter()
            .map(|finding| finding.rule_id)
            .collect()
    }

    #[test]
    fn plain_http_and_ws_urls_to_remote_hosts_are_reported() {
        let text = "const api = 'http://api.payments.io/v1';\nconst live = \"ws://stream.vendor.net:8080/feed\";\n";
        let findings = check(&NetworkDetector, "src/a.ts", text);
        let mut ids: Vec<_> = findings.iter().map(|f| f.rule_id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["insecure-http-url", "insecure-websocket"]);
        assert!(findings
            .iter()
            .any(|f| f.message == "Unencrypted http:// connection to 'api.payments.io'"));
    }

    #[test]
    fn local_example_namespace_and_commented_urls_are_fine() {
        let text = "const a = 'http://localhost:3000/x';\nconst b = 'http://127.0.0.1:8080';\n\
                    const c = 'http://api.example.com/v1';\nconst ns = 'http://www.w3.org/2000/svg';\n\
                    // see http://old.vendor.io/docs\nconst d = 'https://api.vendor.io';\n\
                    const e = 'http://db:5432';\nconst f = url.startsWith('http://');\n\
                    const g = `http://${host}/x`;\nconst h = 'ws://localhost:1234';\n";
        assert!(ids("a.js", text).is_empty(), "{:?}", ids("a.js", text));
    }

    #[test]
    fn disabled_certificate_checks_and_old_tls_are_reported_in_any_language() {
        assert_eq!(
            ids("a.js", "request({ url, strictSSL: false });\n"),
            ["tls-verification-disabled"]
        );
        assert_eq!(
            ids("a.py", "requests.get(url, verify=False, timeout=3)\n"),
            ["tls-verification-disabled"]
        );
        assert_eq!(
            ids(
                "a.go",
                "cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10}\n"
            ),
            ["tls-verification-disabled", "tls-downgrade"]
        );
        assert_eq!(
            ids("a.ts", "tls.connect({ minVersion: 'TLSv1' });\n"),
            ["tls-downgrade"]
        );
    }

    #[test]
    fn certificate_checks_left_on_are_fine() {
        let text = "request({ strictSSL: true });\ntls.connect({ minVersion: 'TLSv1.2' });\n\
                    cfg := tls.Config{InsecureSkipVerify: false}\n";
        assert!(ids("a.js", text).is_empty());
    }

    #[test]
    fn public_ips_in_strings_are_reported_but_private_ones_and_versions_are_not() {
        assert_eq!(
            ids(
                "a.py",
                "HOST = \"52.14.201.9\"\nurl = 'https://35.180.1.20:443/x'\n"
            ),
            ["hardcoded-ip", "hardcoded-ip"]
        );
        let fine = "HOST = \"10.0.0.5\"\nV = \"1.2.3\"\nOID = \"1.3.6.1.4.1\"\nDOC = \"192.0.2.10\"\nLOCAL='127.0.0.1'\n";
        assert!(ids("a.py", fine).is_empty(), "{:?}", ids("a.py", fine));
    }

    #[test]
    fn fetch_without_signal_and_axios_without_timeout_are_reported() {
        let text = "export async function f(url) {\n  await fetch(`${url}/x`);\n  await fetch(url, { method: 'POST' });\n\
                    const client = axios.create({ baseURL: '/api' });\n}\n";
        assert_eq!(
            ids("a.js", text),
            [
                "request-without-timeout",
                "request-without-timeout",
                "request-without-timeout"
            ]
        );
    }

    #[test]
    fn requests_with_a_signal_or_timeout_or_a_local_fetch_are_fine() {
        let text = "import axios from 'axios';\nexport async function f(url, opts) {\n\
                    await fetch(url, { signal: AbortSignal.timeout(5000) });\n\
                    await fetch(url, opts);\naxios.create({ timeout: 3000 });\n}\n\
                    function g(fetch) { return fetch('/x'); }\n";
        assert!(ids("a.js", text).is_empty(), "{:?}", ids("a.js", text));
    }

    #[test]
    fn links_in_messages_and_manifest_home_pages_are_not_endpoints() {
        let text = "warn('See http://momentjs.com/guides/ for more info.');\nfetch(request);\n";
        assert!(ids("a.js", text).is_empty(), "{:?}", ids("a.js", text));
        assert!(ids(
            "package.json",
            "{\"homepage\": \"http://expressjs.com/\"}\n"
        )
        .is_empty());
        assert_eq!(
            ids("config/app.yaml", "api:\n  url: http://api.vendor.io/v2\n"),
            ["insecure-http-url"]
        );
    }

    #[test]
    fn prose_and_lockfiles_are_not_scanned() {
        assert!(ids("README.md", "Visit http://vendor.io\n").is_empty());
        assert!(ids(
            "package-lock.json",
            "{\"resolved\": \"http://registry.vendor.io/x\"}\n"
        )
        .is_empty());
    }
}
