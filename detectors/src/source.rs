//! A file as detectors see it: its relative path, text, language and line table.

use std::path::Path;

/// The languages the engine tells apart; everything else is `Other` (still scanned for secrets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    JavaScript,
    TypeScript,
    Python,
    Go,
    Java,
    Rust,
    Json,
    Other,
}

impl Language {
    /// Guesses the language from the file name.
    pub fn from_path(path: &Path) -> Language {
        let extension = path
            .extension()
            .and_then(|ext| ext.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match extension.as_str() {
            "js" | "jsx" | "mjs" | "cjs" => Language::JavaScript,
            "ts" | "tsx" | "mts" | "cts" => Language::TypeScript,
            "py" | "pyi" => Language::Python,
            "go" => Language::Go,
            "java" => Language::Java,
            "rs" => Language::Rust,
            "json" => Language::Json,
            _ => Language::Other,
        }
    }

    /// JavaScript or TypeScript: the files the oxc-based detectors read.
    pub fn is_js_family(self) -> bool {
        matches!(self, Language::JavaScript | Language::TypeScript)
    }
}

/// Byte offsets of line starts, to turn byte positions into 1-based lines and columns.
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        // About one line start per 40 bytes of code; `memchr` skips the bytes between.
        let mut line_starts = Vec::with_capacity(text.len() / 32 + 1);
        line_starts.push(0);
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|index| index + 1));
        LineIndex { line_starts }
    }

    /// The 1-based line and column of a byte offset; the column counts characters, not bytes.
    pub fn line_column(&self, text: &str, offset: usize) -> (u32, u32) {
        let offset = offset.min(text.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(index) => index,
            Err(index) => index - 1,
        };
        let line_start = self.line_starts[line_index];
        let column = text
            .get(line_start..offset)
            .map(|prefix| prefix.chars().count())
            // Not on a character boundary (never from oxc or regex): fall back to bytes.
            .unwrap_or(offset - line_start);
        (to_u32(line_index + 1), to_u32(column + 1))
    }

    /// The text of a 1-based line, without its line terminator.
    pub fn line_text<'t>(&self, text: &'t str, line: u32) -> &'t str {
        let index = (line as usize).saturating_sub(1);
        let Some(&start) = self.line_starts.get(index) else {
            return "";
        };
        let end = self
            .line_starts
            .get(index + 1)
            .map_or(text.len(), |next| next - 1);
        text.get(start..end).unwrap_or("").trim_end_matches('\r')
    }

    /// The byte offset of a 1-based line and column (columns counted in characters), clamped
    /// to the text: the inverse of [`LineIndex::line_column`].
    pub fn offset_of(&self, text: &str, line: u32, column: u32) -> usize {
        let index = (line as usize)
            .saturating_sub(1)
            .min(self.line_starts.len() - 1);
        let start = self.line_starts[index];
        let skip = (column as usize).saturating_sub(1);
        text.get(start..)
            .and_then(|rest| rest.char_indices().nth(skip))
            .map_or(text.len(), |(offset, _)| start + offset)
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// One file handed to a detector.
pub struct SourceFile<'f> {
    /// Relative to the analysed folder, `/`-separated.
    pub path: &'f str,
    pub text: &'f str,
    pub language: Language,
    pub lines: &'f LineIndex,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "ab\nçé x\n";
        let index = LineIndex::new(text);
        assert_eq!(index.line_column(text, 0), (1, 1));
        assert_eq!(index.line_column(text, 3), (2, 1));
        let x = text.find('x').unwrap();
        assert_eq!(index.line_column(text, x), (2, 4));
        assert_eq!(index.line_text(text, 2), "çé x");
        assert_eq!(index.line_text(text, 3), "");
    }

    #[test]
    fn languages_come_from_extensions() {
        assert_eq!(
            Language::from_path(Path::new("a/b.tsx")),
            Language::TypeScript
        );
        assert_eq!(
            Language::from_path(Path::new("a/b.CJS")),
            Language::JavaScript
        );
        assert_eq!(Language::from_path(Path::new("Makefile")), Language::Other);
    }
}
