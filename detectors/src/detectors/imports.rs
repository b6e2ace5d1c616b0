//! `import` (relative imports that point nowhere) and `circular` (import cycles), both built on
//! the imports the engine collects from each JS/TS file.

use crate::detector::{Detector, FileFacts, ImportRef, Needs, ProjectFacts, ProjectSink, Rule};
use crate::finding::{Category, Severity};
use crate::js::ParsedJs;
use crate::source::LineIndex;
use oxc_ast::ast::{Expression, ImportDeclaration, ImportDeclarationSpecifier};
use oxc_ast::AstKind;
use oxc_span::Span;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;

pub const UNRESOLVED_IMPORT: Rule =
    Rule::new("unresolved-import", Category::Imports, Severity::High)
        .confidence(0.9)
        .suggest("Fix the path, or add the missing file.");
pub const IMPORT_CYCLE: Rule = Rule::new("import-cycle", Category::Imports, Severity::Medium)
    .confidence(0.9)
    .suggest("Move what both modules need into a third module, or invert one dependency.");

/// Every import of a parsed file, with its position: static imports, `export ... from`,
/// `require("...")` and `import("...")` with a literal specifier.
pub fn collect_imports(js: &ParsedJs<'_>, lines: &LineIndex) -> Vec<ImportRef> {
    let text = js.source_text();
    let make = |source_span: Span, specifier: &str, type_only: bool, dynamic: bool| {
        let (line, column) = lines.line_column(text, source_span.start as usize);
        let (end_line, end_column) = lines.line_column(text, source_span.end as usize);
        ImportRef {
            specifier: specifier.to_owned(),
            line,
            column,
            end_line,
            end_column,
            line_text: lines.line_text(text, line).to_owned(),
            type_only,
            dynamic,
        }
    };
    let mut imports = Vec::new();
    for node in js.semantic.nodes().iter() {
        match node.kind() {
            AstKind::ImportDeclaration(import) => {
                let type_only = is_erased_import(js, import);
                imports.push(make(
                    import.source.span,
                    import.source.value.as_str(),
                    type_only,
                    false,
                ));
            }
            AstKind::ExportFromDeclaration(export) => {
                imports.push(make(
                    export.source.span,
                    export.source.value.as_str(),
                    export.export_kind.is_type(),
                    false,
                ));
            }
            AstKind::ExportAllDeclaration(export) => {
                imports.push(make(
                    export.source.span,
                    export.source.value.as_str(),
                    export.export_kind.is_type(),
                    false,
                ));
            }
            AstKind::ImportExpression(import) => {
                if let Expression::StringLiteral(source) = &import.source {
                    imports.push(make(source.span, source.value.as_str(), false, true));
                }
            }
            AstKind::CallExpression(call) => {
                if let Some(source) = call.common_js_require() {
                    imports.push(make(source.span, source.value.as_str(), false, false));
                }
            }
            _ => {}
        }
    }
    imports.sort_by_key(|import| (import.line, import.column));
    imports
}

/// An import that TypeScript erases: `import type`, or one whose every binding is used only as
/// a type (TypeScript drops those unless `verbatimModuleSyntax` is set). Side-effect imports
/// (`import "./polyfill"`) are never erased.
fn is_erased_import(js: &ParsedJs<'_>, import: &ImportDeclaration<'_>) -> bool {
    if import.import_kind.is_type() {
        return true;
    }
    if !js.source_type.is_typescript() {
        return false;
    }
    let Some(specifiers) = &import.specifiers else {
        return false;
    };
    if specifiers.is_empty() {
        return false;
    }
    let scoping = js.semantic.scoping();
    specifiers.iter().all(|specifier| {
        if let ImportDeclarationSpecifier::ImportSpecifier(named) = specifier {
            if named.import_kind.is_type() {
                return true;
            }
        }
        let Some(symbol_id) = specifier.local().symbol_id.get() else {
            return false;
        };
        scoping
            .get_resolved_references(symbol_id)
            .all(|reference| reference.is_type() && !reference.is_value())
    })
}

fn is_relative(specifier: &str) -> bool {
    specifier == "."
        || specifier == ".."
        || specifier.starts_with("./")
        || specifier.starts_with("../")
}

/// Extensions tried after a specifier without one, in the order bundlers and TypeScript use.
const RESOLVE_EXTENSIONS: &[&str] = &[
    "ts", "tsx", "d.ts", "js", "jsx", "mjs", "cjs", "mts", "cts", "json", "node", "vue", "svelte",
];

/// Resolves a relative specifier from `importer` (both `/`-separated, relative to the root) to
/// a project-relative path, `None` when it escapes the root, and whether the target exists.
fn resolve(root: &Path, importer: &str, specifier: &str) -> Option<Resolution> {
    // Bundler suffixes (`./worker?worker`, `./icon.svg#id`) are not part of the path.
    let specifier = specifier.split(['?', '#']).next().unwrap_or(specifier);
    let mut parts: Vec<&str> = importer.split('/').collect();
    parts.pop();
    for part in specifier.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    let base = parts.join("/");
    let candidates = resolution_candidates(&base, specifier.ends_with('/'));
    for candidate in candidates {
        if !candidate.is_empty() && root.join(&candidate).is_file() {
            return Some(Resolution::Found(candidate));
        }
    }
    // A folder with a package.json resolves through its "main"/"exports": trust it.
    if root.join(&base).join("package.json").is_file() {
        return Some(Resolution::Found(format!("{base}/package.json")));
    }
    Some(Resolution::Missing)
}

enum Resolution {
    Found(String),
    Missing,
}

fn resolution_candidates(base: &str, explicit_folder: bool) -> Vec<String> {
    let mut candidates = Vec::new();
    if !explicit_folder {
        candidates.push(base.to_owned());
        for extension in RESOLVE_EXTENSIONS {
            candidates.push(format!("{base}.{extension}"));
        }
        // TypeScript's ESM convention: `import "./a.js"` names the compiled `a.ts`.
        for (written, sources) in [
            (".js", &["ts", "tsx"][..]),
            (".jsx", &["tsx"][..]),
            (".mjs", &["mts"][..]),
            (".cjs", &["cts"][..]),
        ] {
            if let Some(stem) = base.strip_suffix(written) {
                for source in sources {
                    candidates.push(format!("{stem}.{source}"));
                }
            }
        }
    }
    for extension in RESOLVE_EXTENSIONS {
        candidates.push(if base.is_empty() {
            format!("index.{extension}")
        } else {
            format!("{base}/index.{extension}")
        });
    }
    candidates
}

/// `import`: relative imports whose target does not exist.
pub struct ImportDetector;

impl Detector for ImportDetector {
    fn name(&self) -> &'static str {
        "import"
    }

    fn description(&self) -> &'static str {
        "Relative imports, re-exports and require() calls whose target file does not exist"
    }

    fn needs(&self) -> Needs {
        Needs {
            js_syntax_tree: false,
            imports: true,
            files: false,
            js_syntax_errors: false,
        }
    }

    fn check_project(&self, project: &ProjectFacts<'_>, out: &mut ProjectSink) {
        for file in project.files {
            for import in file
                .imports
                .iter()
                .filter(|import| is_relative(&import.specifier))
            {
                // Loader prefixes (`raw-loader!./x`) belong to a bundler we do not model.
                if import.specifier.contains('!') {
                    continue;
                }
                match resolve(project.root, &file.path, &import.specifier) {
                    Some(Resolution::Found(_)) => {}
                    Some(Resolution::Missing) => {
                        out.report_at_import(
                            &UNRESOLVED_IMPORT,
                            &file.path,
                            import,
                            format!("Cannot resolve '{}' from {}", import.specifier, file.path),
                        );
                    }
                    None => {
                        out.report_at_import(
                            &UNRESOLVED_IMPORT,
                            &file.path,
                            import,
                            format!("'{}' points outside the analysed folder", import.specifier),
                        )
                        .confidence = 0.5;
                    }
                }
            }
        }
    }
}

/// `circular`: import cycles between the project's files, each reported once with every file.
pub struct CircularDetector;

impl Detector for CircularDetector {
    fn name(&self) -> &'static str {
        "circular"
    }

    fn description(&self) -> &'static str {
        "Import cycles between JS/TS files (type-only and dynamic imports excluded), naming every file"
    }

    fn needs(&self) -> Needs {
        Needs {
            js_syntax_tree: false,
            imports: true,
            files: false,
            js_syntax_errors: false,
        }
    }

    fn check_project(&self, project: &ProjectFacts<'_>, out: &mut ProjectSink) {
        let graph = ImportGraph::build(project);
        for cycle in graph.cycles() {
            let severity = match cycle.len() {
                0..=2 => Severity::High,
                3..=4 => Severity::Medium,
                _ => Severity::Low,
            };
            let first = &cycle[0];
            let second = &cycle[1 % cycle.len()];
            let Some(import) = graph.import_between(first, second) else {
                continue;
            };
            let mut path: Vec<&str> = cycle.iter().map(String::as_str).collect();
            path.push(first);
            out.report_at_import(
                &IMPORT_CYCLE,
                first,
                import,
                format!(
                    "Import cycle of {} files: {}",
                    cycle.len(),
                    path.join(" → ")
                ),
            )
            .severity = severity;
        }
    }
}

/// Runtime edges between project files: file → (imported file → the import statement).
struct ImportGraph<'p> {
    edges: BTreeMap<&'p str, BTreeMap<String, &'p ImportRef>>,
}

impl<'p> ImportGraph<'p> {
    fn build(project: &'p ProjectFacts<'p>) -> ImportGraph<'p> {
        let known: BTreeSet<&str> = project
            .files
            .iter()
            .map(|file| file.path.as_str())
            .collect();
        let mut edges: BTreeMap<&str, BTreeMap<String, &ImportRef>> = BTreeMap::new();
        for FileFacts { path, imports } in project.files {
            let targets = edges.entry(path.as_str()).or_default();
            for import in imports {
                if import.type_only || import.dynamic || !is_relative(&import.specifier) {
                    continue;
                }
                if let Some(Resolution::Found(target)) =
                    resolve(project.root, path, &import.specifier)
                {
                    if known.contains(target.as_str()) {
                        targets.entry(target).or_insert(import);
                    }
                }
            }
        }
        ImportGraph { edges }
    }

    fn import_between(&self, from: &str, to: &str) -> Option<&'p ImportRef> {
        self.edges.get(from)?.get(to).copied()
    }

    /// For every file on a cycle, the shortest cycle through it; each distinct cycle once,
    /// rotated to start at its smallest path. Bounded by files × edges, unlike listing every
    /// elementary cycle, which explodes on large tangles.
    fn cycles(&self) -> Vec<Vec<String>> {
        let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
        for &start in self.edges.keys() {
            if let Some(cycle) = self.shortest_cycle_through(start) {
                found.insert(rotate_to_smallest(cycle));
            }
        }
        found.into_iter().collect()
    }

    fn shortest_cycle_through(&self, start: &str) -> Option<Vec<String>> {
        let mut previous: HashMap<&str, &str> = HashMap::new();
        let mut queue: VecDeque<&str> = VecDeque::new();
        for next in self.edges.get(start)?.keys() {
            if next == start {
                return Some(vec![start.to_owned()]);
            }
            if !previous.contains_key(next.as_str()) {
                previous.insert(next.as_str(), start);
                queue.push_back(next.as_str());
            }
        }
        while let Some(current) = queue.pop_front() {
            let Some(targets) = self.edges.get(current) else {
                continue;
            };
            for next in targets.keys() {
                if next == start {
                    let mut cycle = vec![current.to_owned()];
                    let mut node = current;
                    while let Some(&before) = previous.get(node) {
                        if before == start {
                            break;
                        }
                        cycle.push(before.to_owned());
                        node = before;
                    }
                    cycle.push(start.to_owned());
                    cycle.reverse();
                    return Some(cycle);
                }
                if !previous.contains_key(next.as_str()) {
                    previous.insert(next.as_str(), current);
                    queue.push_back(next.as_str());
                }
            }
        }
        None
    }
}

fn rotate_to_smallest(mut cycle: Vec<String>) -> Vec<String> {
    if let Some(smallest) = cycle
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.cmp(b.1))
        .map(|(index, _)| index)
    {
        cycle.rotate_left(smallest);
    }
    cycle
}
