//! `build`: build configuration that breaks or weakens the build before any code is compiled.
//! `tsconfig*.json` (JSON with comments): text that does not parse, `strict` off, compiler
//! options TypeScript does not know, options it refuses together, and `files`, `extends`,
//! `references` and literal `include` entries that point nowhere. `package.json`: `main`,
//! `module`, `types`, `bin` and `exports` targets that do not exist, and `scripts` that run a
//! file (`node scripts/x.js`) that does not exist.

use crate::detector::{Detector, Needs, ProjectFacts, ProjectSink, Rule};
use crate::finding::{Category, Severity};
use crate::source::LineIndex;
use serde_json::{Map, Value};
use std::path::Path;

pub const TSCONFIG_INVALID: Rule = Rule::new("tsconfig-invalid", Category::Syntax, Severity::High)
    .confidence(0.95)
    .suggest("Fix the JSON: tsc refuses to start on a tsconfig it cannot read.");
pub const TSCONFIG_STRICT_OFF: Rule = Rule::new(
    "tsconfig-strict-off",
    Category::Suspicious,
    Severity::Medium,
)
.confidence(0.9)
.suggest("Turn on \"strict\": true (migrate file by file with // @ts-expect-error if needed).");
pub const TSCONFIG_UNKNOWN_OPTION: Rule = Rule::new(
    "tsconfig-unknown-option",
    Category::Correctness,
    Severity::Medium,
)
.confidence(0.85)
.suggest("Remove or correct the option: tsc fails with error TS5023 on unknown options.");
pub const TSCONFIG_CONFLICT: Rule = Rule::new(
    "tsconfig-conflicting-options",
    Category::Correctness,
    Severity::High,
)
.confidence(0.9)
.suggest("Change one of the two options: tsc refuses this combination.");
pub const TSCONFIG_MISSING_FILE: Rule = Rule::new(
    "tsconfig-missing-file",
    Category::Correctness,
    Severity::High,
)
.confidence(0.9)
.suggest("Fix the path or add the file: tsc stops with 'File not found'.");
pub const PACKAGE_ENTRY_MISSING: Rule = Rule::new(
    "package-entry-missing",
    Category::Correctness,
    Severity::High,
)
.confidence(0.8)
.suggest("Point the field at a file the package contains (or build it before publishing).");
pub const SCRIPT_FILE_MISSING: Rule =
    Rule::new("script-file-missing", Category::Correctness, Severity::High)
        .confidence(0.85)
        .suggest(
            "Fix the path in the script or add the file: the script fails as soon as it runs.",
        );

pub const RULES: &[Rule] = &[
    TSCONFIG_INVALID,
    TSCONFIG_STRICT_OFF,
    TSCONFIG_UNKNOWN_OPTION,
    TSCONFIG_CONFLICT,
    TSCONFIG_MISSING_FILE,
    PACKAGE_ENTRY_MISSING,
    SCRIPT_FILE_MISSING,
];

/// `compilerOptions` TypeScript 5.x accepts in a tsconfig.
const COMPILER_OPTIONS: &[&str] = &[
    "allowArbitraryExtensions",
    "allowImportingTsExtensions",
    "allowJs",
    "allowSyntheticDefaultImports",
    "allowUmdGlobalAccess",
    "allowUnreachableCode",
    "allowUnusedLabels",
    "alwaysStrict",
    "assumeChangesOnlyAffectDirectDependencies",
    "baseUrl",
    "charset",
    "checkJs",
    "composite",
    "customConditions",
    "declaration",
    "declarationDir",
    "declarationMap",
    "diagnostics",
    "disableReferencedProjectLoad",
    "disableSizeLimit",
    "disableSolutionSearching",
    "disableSourceOfProjectReferenceRedirect",
    "downlevelIteration",
    "emitBOM",
    "emitDeclarationOnly",
    "emitDecoratorMetadata",
    "erasableSyntaxOnly",
    "esModuleInterop",
    "exactOptionalPropertyTypes",
    "experimentalDecorators",
    "explainFiles",
    "extendedDiagnostics",
    "forceConsistentCasingInFileNames",
    "generateCpuProfile",
    "generateTrace",
    "importHelpers",
    "importsNotUsedAsValues",
    "incremental",
    "inlineSourceMap",
    "inlineSources",
    "isolatedDeclarations",
    "isolatedModules",
    "jsx",
    "jsxFactory",
    "jsxFragmentFactory",
    "jsxImportSource",
    "keyofStringsOnly",
    "lib",
    "libReplacement",
    "listEmittedFiles",
    "listFiles",
    "locale",
    "mapRoot",
    "maxNodeModuleJsDepth",
    "module",
    "moduleDetection",
    "moduleResolution",
    "moduleSuffixes",
    "newLine",
    "noCheck",
    "noEmit",
    "noEmitHelpers",
    "noEmitOnError",
    "noErrorTruncation",
    "noFallthroughCasesInSwitch",
    "noImplicitAny",
    "noImplicitOverride",
    "noImplicitReturns",
    "noImplicitThis",
    "noImplicitUseStrict",
    "noLib",
    "noPropertyAccessFromIndexSignature",
    "noResolve",
    "noStrictGenericChecks",
    "noUncheckedIndexedAccess",
    "noUncheckedSideEffectImports",
    "noUnusedLocals",
    "noUnusedParameters",
    "out",
    "outDir",
    "outFile",
    "paths",
    "plugins",
    "preserveConstEnums",
    "preserveSymlinks",
    "preserveValueImports",
    "preserveWatchOutput",
    "pretty",
    "reactNamespace",
    "removeComments",
    "resolveJsonModule",
    "resolvePackageJsonExports",
    "resolvePackageJsonImports",
    "rewriteRelativeImportExtensions",
    "rootDir",
    "rootDirs",
    "skipDefaultLibCheck",
    "skipLibCheck",
    "sourceMap",
    "sourceRoot",
    "stopBuildOnErrors",
    "strict",
    "strictBindCallApply",
    "strictBuiltinIteratorReturn",
    "strictFunctionTypes",
    "strictNullChecks",
    "strictPropertyInitialization",
    "stripInternal",
    "suppressExcessPropertyErrors",
    "suppressImplicitAnyIndexErrors",
    "target",
    "traceResolution",
    "tsBuildInfoFile",
    "typeRoots",
    "types",
    "useDefineForClassFields",
    "useUnknownInCatchVariables",
    "verbatimModuleSyntax",
    "watch",
    "assumeChangesOnlyAffectDirectDependencies",
];

/// First path components of build output: a missing entry there usually means "not built yet".
const BUILD_OUTPUT_DIRS: &[&str] = &[
    "dist", "build", "lib", "out", "es", "esm", "cjs", "umd", "types", "typings", "bundle",
    ".output", "output", "compiled",
];

pub struct BuildDetector;

impl Detector for BuildDetector {
    fn name(&self) -> &'static str {
        "build"
    }

    fn description(&self) -> &'static str {
        "Build configuration: invalid tsconfig, strict off, unknown or conflicting options, missing files and package entry points or script files"
    }

    fn needs(&self) -> Needs {
        Needs {
            files: true,
            ..Needs::default()
        }
    }

    fn check_project(&self, project: &ProjectFacts<'_>, out: &mut ProjectSink) {
        for file in project.files {
            let name = file.path.rsplit('/').next().unwrap_or(&file.path);
            let is_tsconfig = name.starts_with("tsconfig") && name.ends_with(".json");
            if !is_tsconfig && name != "package.json" {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(project.root.join(&file.path)) else {
                continue;
            };
            let dir = file.path.rsplit_once('/').map_or("", |(dir, _)| dir);
            let manifest = Manifest {
                root: project.root,
                path: &file.path,
                dir,
                lines: LineIndex::new(&text),
                text: &text,
            };
            if is_tsconfig {
                check_tsconfig(&manifest, out);
            } else {
                check_package_json(&manifest, out);
            }
        }
    }
}

struct Manifest<'m> {
    root: &'m Path,
    path: &'m str,
    dir: &'m str,
    text: &'m str,
    lines: LineIndex,
}

impl Manifest<'_> {
    fn report(&self, out: &mut ProjectSink, rule: &Rule, at: usize, len: usize, message: String) {
        out.report_in_text(
            rule,
            self.path,
            self.text,
            &self.lines,
            at,
            at + len,
            message,
        );
    }

    /// Where `"needle"` first appears (for locating keys and values), else the file start.
    fn locate(&self, needle: &str) -> (usize, usize) {
        let quoted = format!("\"{needle}\"");
        self.text
            .find(&quoted)
            .map_or((0, 0), |at| (at, quoted.len()))
    }

    fn report_at(&self, out: &mut ProjectSink, rule: &Rule, needle: &str, message: String) {
        let (at, len) = self.locate(needle);
        self.report(out, rule, at, len, message);
    }

    /// A path relative to the manifest's folder, as seen from the project root.
    fn exists(&self, relative: &str) -> bool {
        let relative = relative.trim_start_matches("./");
        self.root.join(self.dir).join(relative).exists()
    }
}

/// JSON with comments and trailing commas → JSON, with comments and commas blanked so byte
/// offsets (and so lines and columns of parse errors) stay those of the original text.
pub fn strip_jsonc(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut index = 0;
    let mut in_string = false;
    while index < bytes.len() {
        let byte = bytes[index];
        if in_string {
            if byte == b'\\' {
                index += 2;
                continue;
            }
            if byte == b'"' {
                in_string = false;
            }
            index += 1;
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'/' if bytes.get(index + 1) == Some(&b'/') => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    out[index] = b' ';
                    index += 1;
                }
                continue;
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                let end = text[index + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |offset| index + 2 + offset + 2);
                for at in index..end {
                    if bytes[at] != b'\n' {
                        out[at] = b' ';
                    }
                }
                index = end;
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    blank_trailing_commas(&mut out);
    // Only ASCII bytes outside strings were replaced by spaces: still valid UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// Blanks each `,` followed (after white space) by `}` or `]`, once comments are blank.
fn blank_trailing_commas(bytes: &mut [u8]) {
    let mut in_string = false;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' if in_string => index += 1,
            b'"' => in_string = !in_string,
            b',' if !in_string => {
                let next = bytes[index + 1..]
                    .iter()
                    .find(|byte| !byte.is_ascii_whitespace());
                if matches!(next, Some(b'}') | Some(b']')) {
                    bytes[index] = b' ';
                }
            }
            _ => {}
        }
        index += 1;
    }
}

fn check_tsconfig(manifest: &Manifest<'_>, out: &mut ProjectSink) {
    let stripped = strip_jsonc(manifest.text);
    let config: Map<String, Value> = match serde_json::from_str::<Value>(&stripped) {
        Ok(Value::Object(config)) => config,
        Ok(_) => {
            manifest.report(
                out,
                &TSCONFIG_INVALID,
                0,
                0,
                "tsconfig is not a JSON object".to_owned(),
            );
            return;
        }
        Err(error) => {
            let at =
                manifest
                    .lines
                    .offset_of(manifest.text, error.line() as u32, error.column() as u32);
            manifest.report(
                out,
                &TSCONFIG_INVALID,
                at,
                1,
                format!("tsconfig does not parse: {error}"),
            );
            return;
        }
    };
    let options = match config.get("compilerOptions") {
        Some(Value::Object(options)) => options.clone(),
        _ => Map::new(),
    };
    let extends = config.get("extends");
    match options.get("strict") {
        Some(Value::Bool(false)) => manifest.report_at(
            out,
            &TSCONFIG_STRICT_OFF,
            "strict",
            "\"strict\" is false: null checks and implicit any are not checked".to_owned(),
        ),
        None if extends.is_none() && config.contains_key("compilerOptions") => manifest.report_at(
            out,
            &TSCONFIG_STRICT_OFF,
            "compilerOptions",
            "\"strict\" is not set (it defaults to false)".to_owned(),
        ),
        _ => {}
    }
    for key in options.keys() {
        if !COMPILER_OPTIONS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(key))
        {
            manifest.report_at(
                out,
                &TSCONFIG_UNKNOWN_OPTION,
                key,
                format!("unknown compiler option '{key}'"),
            );
        }
    }
    check_conflicts(manifest, &options, out);

    let mut referenced: Vec<(String, &'static str)> = Vec::new();
    if let Some(Value::Array(files)) = config.get("files") {
        referenced.extend(
            files
                .iter()
                .filter_map(Value::as_str)
                .map(|file| (file.to_owned(), "files")),
        );
    }
    if let Some(Value::Array(include)) = config.get("include") {
        referenced.extend(
            include
                .iter()
                .filter_map(Value::as_str)
                .filter(|pattern| !pattern.contains(['*', '?', '{']))
                .map(|path| (path.to_owned(), "include")),
        );
    }
    if let Some(Value::Array(references)) = config.get("references") {
        referenced.extend(
            references
                .iter()
                .filter_map(|reference| reference.get("path")?.as_str())
                .map(|path| (path.to_owned(), "references")),
        );
    }
    let extended: Vec<&str> = match extends {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    for parent in extended
        .into_iter()
        .filter(|parent| parent.starts_with('.'))
    {
        if !manifest.exists(parent) && !manifest.exists(&format!("{parent}.json")) {
            manifest.report_at(
                out,
                &TSCONFIG_MISSING_FILE,
                parent,
                format!("\"extends\" names '{parent}', which does not exist"),
            );
        }
    }
    for (path, field) in referenced {
        if path.contains("${") || manifest.exists(&path) {
            continue;
        }
        let rule = if field == "include" {
            Rule {
                severity: Severity::Medium,
                ..TSCONFIG_MISSING_FILE
            }
        } else {
            TSCONFIG_MISSING_FILE
        };
        manifest.report_at(
            out,
            &rule,
            &path,
            format!("\"{field}\" names '{path}', which does not exist"),
        );
    }
}

fn lowercase(options: &Map<String, Value>, key: &str) -> Option<String> {
    options.get(key)?.as_str().map(str::to_ascii_lowercase)
}

fn is_true(options: &Map<String, Value>, key: &str) -> bool {
    options.get(key) == Some(&Value::Bool(true))
}

fn check_conflicts(manifest: &Manifest<'_>, options: &Map<String, Value>, out: &mut ProjectSink) {
    let module = lowercase(options, "module");
    let resolution = lowercase(options, "moduleResolution");
    let mut conflicts: Vec<(&str, String)> = Vec::new();
    if is_true(options, "noEmit") && is_true(options, "emitDeclarationOnly") {
        conflicts.push((
            "emitDeclarationOnly",
            "\"emitDeclarationOnly\" cannot be used with \"noEmit\"".to_owned(),
        ));
    }
    if is_true(options, "sourceMap") && is_true(options, "inlineSourceMap") {
        conflicts.push((
            "inlineSourceMap",
            "\"inlineSourceMap\" cannot be used with \"sourceMap\"".to_owned(),
        ));
    }
    if is_true(options, "composite") && options.get("incremental") == Some(&Value::Bool(false)) {
        conflicts.push((
            "incremental",
            "\"composite\" projects cannot turn \"incremental\" off".to_owned(),
        ));
    }
    if is_true(options, "composite") && options.get("declaration") == Some(&Value::Bool(false)) {
        conflicts.push((
            "declaration",
            "\"composite\" projects need \"declaration\"".to_owned(),
        ));
    }
    if let (Some(resolution), Some(module)) = (&resolution, &module) {
        let module_is_es = module.starts_with("es") || module == "preserve";
        if resolution == "bundler" && !module_is_es {
            conflicts.push(("moduleResolution", format!("\"moduleResolution\": \"bundler\" needs an ES \"module\" (es2015 or later, esnext, preserve), not '{module}'")));
        }
        if matches!(resolution.as_str(), "node16" | "nodenext")
            && module != resolution
            && !(module == "node18" || module == "node20" || module.starts_with("node"))
        {
            conflicts.push(("moduleResolution", format!("\"moduleResolution\": \"{resolution}\" needs \"module\": \"{resolution}\", not '{module}'")));
        }
    }
    if options.contains_key("outFile") {
        if let Some(module) = &module {
            if !matches!(module.as_str(), "amd" | "system" | "none" | "preserve") {
                conflicts.push((
                    "outFile",
                    format!("\"outFile\" only works with \"module\" amd or system, not '{module}'"),
                ));
            }
        }
    }
    for (key, message) in conflicts {
        manifest.report_at(out, &TSCONFIG_CONFLICT, key, message);
    }
}

fn check_package_json(manifest: &Manifest<'_>, out: &mut ProjectSink) {
    let Ok(Value::Object(package)) = serde_json::from_str::<Value>(manifest.text) else {
        // The package detector reports manifests that do not parse.
        return;
    };
    let mut entries: Vec<(&str, &str)> = Vec::new();
    for field in ["main", "module", "types", "typings", "browser"] {
        if let Some(Value::String(target)) = package.get(field) {
            entries.push((field, target));
        }
    }
    match package.get("bin") {
        Some(Value::String(target)) => entries.push(("bin", target)),
        Some(Value::Object(bins)) => {
            entries.extend(bins.values().filter_map(Value::as_str).map(|t| ("bin", t)))
        }
        _ => {}
    }
    if let Some(exports) = package.get("exports") {
        let mut targets = Vec::new();
        export_targets(exports, &mut targets);
        entries.extend(targets.into_iter().map(|target| ("exports", target)));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (field, target) in entries {
        if seen.contains(&target) || target.contains('*') || !is_checkable_path(target) {
            continue;
        }
        seen.push(target);
        if resolves(manifest, field, target) {
            continue;
        }
        if in_unbuilt_output(manifest, target) {
            continue;
        }
        manifest.report_at(
            out,
            &PACKAGE_ENTRY_MISSING,
            target,
            format!("\"{field}\" points at '{target}', which does not exist"),
        );
    }
    if let Some(Value::Object(scripts)) = package.get("scripts") {
        for (name, command) in scripts {
            let Some(command) = command.as_str() else {
                continue;
            };
            for file in script_files(command) {
                if !manifest.exists(file) && !in_unbuilt_output(manifest, file) {
                    manifest.report_at(
                        out,
                        &SCRIPT_FILE_MISSING,
                        command,
                        format!("script '{name}' runs '{file}', which does not exist"),
                    );
                }
            }
        }
    }
}

/// A path in a build output folder that does not exist at all: not built yet, not broken.
fn in_unbuilt_output(manifest: &Manifest<'_>, path: &str) -> bool {
    let trimmed = path.trim_start_matches("./");
    let first = trimmed.split('/').next().unwrap_or("");
    trimmed.contains('/') && BUILD_OUTPUT_DIRS.contains(&first) && !manifest.exists(first)
}

fn is_checkable_path(target: &str) -> bool {
    !target.is_empty()
        && !target.contains("://")
        && !target.starts_with('/')
        && !target.contains("..")
}

/// Node's resolution of a `main`-like field: the file, or it with an extension, or its index.
fn resolves(manifest: &Manifest<'_>, field: &str, target: &str) -> bool {
    if manifest.exists(target) {
        return !target.ends_with('/') || manifest.exists(&format!("{target}index.js"));
    }
    let suffixes: &[&str] = if field == "types" || field == "typings" {
        &[".d.ts", "/index.d.ts"]
    } else {
        &[".js", ".json", ".node", ".mjs", ".cjs", "/index.js"]
    };
    suffixes
        .iter()
        .any(|suffix| manifest.exists(&format!("{}{suffix}", target.trim_end_matches('/'))))
}

/// Every file path in an `exports` value: strings, and the values of conditions and subpaths.
fn export_targets<'v>(value: &'v Value, targets: &mut Vec<&'v str>) {
    match value {
        Value::String(target) => targets.push(target),
        Value::Array(items) => items.iter().for_each(|item| export_targets(item, targets)),
        Value::Object(map) => map.values().for_each(|item| export_targets(item, targets)),
        _ => {}
    }
}

/// Files a script runs with an interpreter: `node x.js`, `tsx src/y.ts`, `bash scripts/z.sh`.
fn script_files(command: &str) -> Vec<&str> {
    const RUNNERS: &[&str] = &[
        "node", "ts-node", "tsx", "bash", "sh", "python", "python3", "bun", "deno",
    ];
    let mut files = Vec::new();
    for segment in command.split(['&', '|', ';']) {
        let mut words = segment
            .split_whitespace()
            .skip_while(|word| word.contains('='));
        let Some(runner) = words.next() else {
            continue;
        };
        if !RUNNERS.contains(&runner) {
            continue;
        }
        let Some(file) = words.find(|word| !word.starts_with('-') && *word != "run") else {
            continue;
        };
        let looks_like_file = [".js", ".mjs", ".cjs", ".ts", ".mts", ".sh", ".py"]
            .iter()
            .any(|extension| file.ends_with(extension));
        if looks_like_file && !file.contains(['$', '*', '"', '\'', '`']) && is_checkable_path(file)
        {
            files.push(file);
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::FileFacts;

    fn run(files: &[(&str, &str)]) -> Vec<(String, String, u32)> {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let facts: Vec<FileFacts> = files
            .iter()
            .map(|(path, _)| FileFacts {
                path: (*path).to_owned(),
                imports: vec![],
            })
            .collect();
        let project = ProjectFacts {
            root: dir.path(),
            files: &facts,
            advisories_dir: None,
        };
        let mut sink = ProjectSink::new("build");
        BuildDetector.check_project(&project, &mut sink);
        sink.into_parts()
            .0
            .into_iter()
            .map(|located| {
                (
                    located.finding.rule_id,
                    located.finding.message,
                    located.finding.line,
                )
            })
            .collect()
    }

    fn ids(found: &[(String, String, u32)]) -> Vec<&str> {
        found.iter().map(|(id, _, _)| id.as_str()).collect()
    }

    const GOOD_TSCONFIG: &str = "{\n  // comments and trailing commas are fine\n  \"compilerOptions\": {\n    \"strict\": true,\n    \"module\": \"esnext\",\n    \"moduleResolution\": \"bundler\", /* ok */\n  },\n  \"include\": [\"src\", \"test/**/*\"],\n}\n";

    #[test]
    fn a_clean_tsconfig_with_comments_is_fine() {
        let found = run(&[("tsconfig.json", GOOD_TSCONFIG), ("src/a.ts", "")]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_tsconfig_that_does_not_parse_is_reported_at_the_error() {
        let found = run(&[("tsconfig.json", "{\n  \"compilerOptions\": {\n    \"strict\": true\n    \"target\": \"es2022\"\n  }\n}\n")]);
        assert_eq!(ids(&found), ["tsconfig-invalid"]);
        assert_eq!(found[0].2, 4);
    }

    #[test]
    fn strict_off_unknown_and_conflicting_options_are_reported() {
        let text = "{\"compilerOptions\": {\"strict\": false, \"strictNullCheck\": true, \"noEmit\": true, \"emitDeclarationOnly\": true, \"module\": \"commonjs\", \"moduleResolution\": \"bundler\"}}";
        let found = run(&[("packages/a/tsconfig.build.json", text)]);
        let mut found_ids = ids(&found);
        found_ids.sort();
        assert_eq!(
            found_ids,
            [
                "tsconfig-conflicting-options",
                "tsconfig-conflicting-options",
                "tsconfig-strict-off",
                "tsconfig-unknown-option"
            ]
        );
        assert!(found
            .iter()
            .any(|(_, message, _)| message == "unknown compiler option 'strictNullCheck'"));
    }

    #[test]
    fn missing_files_extends_and_include_folders_are_reported() {
        let text = "{\"extends\": \"./base\", \"files\": [\"src/main.ts\", \"src/gone.ts\"], \"include\": [\"lib\"], \"references\": [{\"path\": \"../shared\"}]}";
        let found = run(&[("app/tsconfig.json", text), ("app/src/main.ts", "")]);
        let mut found_ids = ids(&found);
        found_ids.sort();
        assert_eq!(
            found_ids,
            [
                "tsconfig-missing-file",
                "tsconfig-missing-file",
                "tsconfig-missing-file",
                "tsconfig-missing-file"
            ]
        );
        let found = run(&[
            (
                "app/tsconfig.json",
                "{\"extends\": \"./base\", \"compilerOptions\": {}}",
            ),
            ("app/base.json", "{\"compilerOptions\": {\"strict\": true}}"),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn package_entries_and_script_files_that_do_not_exist_are_reported() {
        let manifest = r#"{
  "name": "x",
  "main": "index.js",
  "types": "./types.d.ts",
  "bin": {"x": "./bin/cli.js"},
  "exports": {".": {"import": "./esm/index.mjs", "require": "./index.js"}},
  "scripts": {"gen": "node scripts/gen.js && tsc", "ok": "node scripts/ok.js --flag", "lint": "eslint ."}
}"#;
        let found = run(&[
            ("package.json", manifest),
            ("index.js", ""),
            ("scripts/ok.js", ""),
            ("esm/other.mjs", ""),
        ]);
        let mut found_ids = ids(&found);
        found_ids.sort();
        assert_eq!(
            found_ids,
            [
                "package-entry-missing",
                "package-entry-missing",
                "package-entry-missing",
                "script-file-missing"
            ],
            "{found:?}"
        );
        assert!(found
            .iter()
            .any(|(_, message, _)| message
                == "script 'gen' runs 'scripts/gen.js', which does not exist"));
    }

    #[test]
    fn entries_in_an_unbuilt_output_folder_and_extensionless_mains_are_fine() {
        let manifest = r#"{"name": "x", "main": "dist/index.js", "types": "dist/index.d.ts", "module": "src/index", "scripts": {"build": "tsc -p .", "start": "node dist/server.js", "dev": "tsx src/index"}}"#;
        let found = run(&[("package.json", manifest), ("src/index.js", "")]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn jsonc_stripping_keeps_offsets_and_strings() {
        let text = "{\"a\": \"//not a comment\", /* c */ \"b\": [1,2,],}";
        let stripped = strip_jsonc(text);
        assert_eq!(stripped.len(), text.len());
        let value: Value = serde_json::from_str(&stripped).unwrap();
        assert_eq!(value["a"], "//not a comment");
    }
}
