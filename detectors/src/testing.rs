//! Helpers for the crate's unit tests: run one detector on one in-memory file.

use crate::detector::{Detector, FileSink};
use crate::finding::Finding;
use crate::js;
use crate::source::{Language, LineIndex, SourceFile};
use oxc_allocator::Allocator;
use std::path::Path;

/// Runs `detector` on `text` as if it were the file `path`, and returns its findings.
pub fn check(detector: &dyn Detector, path: &str, text: &str) -> Vec<Finding> {
    let lines = LineIndex::new(text);
    let file = SourceFile {
        path,
        text,
        language: Language::from_path(Path::new(path)),
        lines: &lines,
    };
    let allocator = Allocator::default();
    let needs = detector.needs();
    let parsed = if file.language.is_js_family() && needs.js_syntax_tree {
        js::parse(&allocator, path, text, needs.js_syntax_errors)
    } else {
        None
    };
    let mut sink = FileSink::new(detector.name(), &file);
    detector.check_file(&file, parsed.as_ref(), &mut sink);
    sink.into_findings()
        .into_iter()
        .map(|located| located.finding)
        .collect()
}

/// The rule ids found, in report order.
pub fn rule_ids(findings: &[Finding]) -> Vec<&str> {
    findings
        .iter()
        .map(|finding| finding.rule_id.as_str())
        .collect()
}

/// A deterministic random-looking string, so tests never hold a real-looking credential
/// literal (which push protection would rightly block) and never depend on chance.
pub fn pseudo_random(seed: u64, length: usize, alphabet: &str) -> String {
    let alphabet: Vec<char> = alphabet.chars().collect();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..length)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            alphabet[((state >> 33) as usize) % alphabet.len()]
        })
        .collect()
}

pub const ALPHANUMERIC: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const HEX: &str = "0123456789abcdef";
pub const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
