//! Small helpers that the tree-sitter detectors (`python`, `go`, `java`, `rust`, and the
//! complexity of those languages) share: parsing, node text, traversal, and string shapes.

use tree_sitter::{Language, Node, Parser, Tree};

/// A tree of `text` in `language`. Error nodes are kept: checks still run on what parses.
pub fn parse(language: &Language, text: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    parser.set_language(language).ok()?;
    parser.parse(text, None)
}

/// The source text of `node` ("" if the node does not fall on UTF-8 boundaries).
pub fn text<'s>(node: Node<'_>, source: &'s [u8]) -> &'s str {
    node.utf8_text(source).unwrap_or("")
}

/// The named children of `node`, collected so callers can index and iterate freely.
pub fn named_children<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

/// Every named node under `root` (itself included), in source order. An explicit stack keeps
/// deeply nested generated code from overflowing the thread's stack.
pub fn descendants(root: Node<'_>) -> Vec<Node<'_>> {
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        found.push(node);
        let children = named_children(node);
        stack.extend(children.into_iter().rev());
    }
    found
}

/// The nearest ancestor of `node` (not itself) whose kind is one of `kinds`.
pub fn ancestor_of_kind<'t>(node: Node<'t>, kinds: &[&str]) -> Option<Node<'t>> {
    let mut current = node.parent();
    while let Some(parent) = current {
        if kinds.contains(&parent.kind()) {
            return Some(parent);
        }
        current = parent.parent();
    }
    None
}

/// Splits an identifier into lower-case words: `newAPIToken` → `new`, `api`, `token`;
/// `session_key` → `session`, `key`. Used to tell what a value is named after.
pub fn identifier_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (index, &character) in chars.iter().enumerate() {
        if !character.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let previous = index.checked_sub(1).map(|previous| chars[previous]);
        let next = chars.get(index + 1);
        // A new word starts at `aB` and at the last capital of `APIToken`.
        let starts_word = character.is_uppercase()
            && previous.is_some_and(|previous| {
                previous.is_lowercase()
                    || previous.is_ascii_digit()
                    || (previous.is_uppercase() && next.is_some_and(|next| next.is_lowercase()))
            });
        if starts_word && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(character.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a name says its value must be unguessable (a token, secret, password or key).
pub fn names_a_secret(name: &str) -> bool {
    const SECRET_WORDS: &[&str] = &[
        "token", "secret", "password", "passwd", "pwd", "key", "apikey", "nonce", "salt", "otp",
    ];
    identifier_words(name)
        .iter()
        .any(|word| SECRET_WORDS.contains(&word.as_str()))
}

/// A `+` chain with at least one string literal and at least one operand that is not a
/// literal: a string built from run-time data, the shape that carries injections. `is_literal`
/// tells the grammar's literal kinds apart; parentheses are looked through.
pub fn is_dynamic_concatenation(
    node: Node<'_>,
    binary_kind: &str,
    is_string_literal: &dyn Fn(Node<'_>) -> bool,
    is_literal: &dyn Fn(Node<'_>) -> bool,
) -> bool {
    fn operands<'t>(node: Node<'t>, binary_kind: &str, into: &mut Vec<Node<'t>>) {
        let node = unparenthesized(node);
        let is_plus = node.kind() == binary_kind
            && node
                .child_by_field_name("operator")
                .is_some_and(|operator| operator.kind() == "+");
        if is_plus {
            for side in ["left", "right"] {
                if let Some(operand) = node.child_by_field_name(side) {
                    operands(operand, binary_kind, into);
                }
            }
        } else {
            into.push(node);
        }
    }
    let node = unparenthesized(node);
    if node.kind() != binary_kind {
        return false;
    }
    let mut parts = Vec::new();
    operands(node, binary_kind, &mut parts);
    parts.len() > 1
        && parts.iter().any(|part| is_string_literal(*part))
        && parts.iter().any(|part| !is_literal(*part))
}

/// `node` without the parentheses around it.
pub fn unparenthesized(mut node: Node<'_>) -> Node<'_> {
    while node.kind() == "parenthesized_expression" && node.named_child_count() == 1 {
        match node.named_child(0) {
            Some(inner) => node = inner,
            None => break,
        }
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_split_into_lower_case_words() {
        assert_eq!(identifier_words("newAPIToken"), ["new", "api", "token"]);
        assert_eq!(identifier_words("session_key"), ["session", "key"]);
        assert_eq!(identifier_words("HTTPServer2"), ["http", "server2"]);
    }

    #[test]
    fn secret_names_are_recognised_by_whole_words() {
        assert!(names_a_secret("resetToken"));
        assert!(names_a_secret("API_KEY"));
        assert!(names_a_secret("generatePassword"));
        assert!(!names_a_secret("monkey"));
        assert!(!names_a_secret("keyboardLayout"));
        assert!(!names_a_secret("jitter"));
    }
}
