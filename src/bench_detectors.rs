//! `insight bench detectors`: the detector engine on real code from published npm packages
//! (fetched by `scripts/bench-corpus.sh` into `target/bench-corpus/`, never committed), each
//! figure beside a peer tool run on the same files in the same run:
//!
//! - JS parse-and-lint MB/s on one core (`typescript`, `eslint` and `runtime` detectors in a
//!   rayon pool of one thread) beside oxlint (`--threads=1`) and ESLint (recommended rules);
//! - secret scanning MB/s on one core beside Kingfisher (`-j 1`, no validation);
//! - recall and false positives on a generated set of planted secrets and decoys;
//! - findings per thousand lines of every detector on the same (clean, published) code.
//!
//! Peers that are not installed are reported as missing; the run goes on without them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use detectors::detectors::security::secrets;
use detectors::source::SourceFile;
use detectors::{Detector, Engine, FileSink, Registry, Report, RunOptions};

#[derive(Args, Clone)]
pub struct DetectorsArgs {
    /// Where `scripts/bench-corpus.sh` put the corpus (`npm/<package>/`); work folders are
    /// made beside it.
    #[arg(long, default_value = "target/bench-corpus")]
    corpus: PathBuf,
    /// Where `scripts/bench-corpus.sh` installed the peers (oxlint, eslint, kingfisher).
    #[arg(long, default_value = "target/bench-tools")]
    tools: PathBuf,
    /// Megabytes of `.js`/`.mjs`/`.cjs` for the parse-and-lint comparison (ESLint is slow).
    #[arg(long, default_value_t = 16)]
    lint_mb: u64,
    /// Runs of each of our measurements; the fastest counts (peers run once).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Planted secrets of each kind.
    #[arg(long, default_value_t = 12)]
    planted_per_kind: usize,
    /// Only these parts: lint, secrets, planted, density (default: all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Skip the peer tools (to profile our side alone).
    #[arg(long)]
    no_peers: bool,
}

const MB: f64 = 1024.0 * 1024.0;

pub fn run(args: DetectorsArgs) -> anyhow::Result<()> {
    // Absolute: peers run from other folders.
    let corpus = absolute(&args.corpus);
    let npm = corpus.join("npm");
    if !npm.is_dir() {
        anyhow::bail!(
            "no corpus in {}: run scripts/bench-corpus.sh first",
            npm.display()
        );
    }
    let work = corpus.join("work");
    let selection = select_files(&npm, args.lint_mb * 1024 * 1024)?;
    let lint_dir = work.join("lint");
    let text_dir = work.join("text");
    materialize(&npm, &lint_dir, &selection.lint)?;
    materialize(&npm, &text_dir, &selection.text)?;
    let lint_bytes: u64 = selection.lint.iter().map(|(_, size)| size).sum();
    let text_bytes: u64 = selection.text.iter().map(|(_, size)| size).sum();
    println!(
        "corpus: {} packages from npm in {}; {} JS files ({:.1} MB) for parse-and-lint, {} text files ({:.1} MB) for secrets",
        std::fs::read_dir(&npm)?.count(),
        npm.display(),
        selection.lint.len(),
        lint_bytes as f64 / MB,
        selection.text.len(),
        text_bytes as f64 / MB,
    );
    let tools = if args.no_peers {
        PathBuf::from("/nonexistent (--no-peers)")
    } else {
        absolute(&args.tools)
    };
    let wants = |part: &str| args.only.is_empty() || args.only.iter().any(|only| only == part);
    if wants("lint") {
        lint_section(&args, &tools, &work, &lint_dir, lint_bytes)?;
    }
    let kingfisher_path = tools.join("py/kingfisher/bin/kingfisher");
    if wants("secrets") {
        secrets_section(&args, &kingfisher_path, &text_dir, text_bytes)?;
    }
    if wants("planted") {
        planted_section(&args, &kingfisher_path, &work)?;
    }
    if wants("density") {
        println!("\n== (d) findings of every detector on the published code (all cores)");
        let all = Engine::default().run(
            &text_dir,
            &[],
            &RunOptions {
                skipped_dirs: vec![],
                ..RunOptions::default()
            },
        )?;
        print_density(&all);
    }
    Ok(())
}

fn lint_section(
    args: &DetectorsArgs,
    tools: &Path,
    work: &Path,
    lint_dir: &Path,
    lint_bytes: u64,
) -> anyhow::Result<()> {
    println!(
        "\n== (a) JS parse-and-lint on one core ({} runs, fastest)",
        args.runs
    );
    let parse_only = time_engine(lint_dir, &["typescript"], args.runs, None)?;
    let ours = time_engine(
        lint_dir,
        &["typescript", "eslint", "runtime"],
        args.runs,
        None,
    )?;
    println!("tool                                   |  seconds |  MB/s/core | ratio to ours");
    let row = |name: &str, seconds: f64, baseline: f64| {
        println!(
            "{name:<38} | {seconds:>8.2} | {:>10.1} | {:>6.2}",
            lint_bytes as f64 / MB / seconds,
            baseline / seconds
        );
    };
    row("insight: parse + semantic only", parse_only.0, ours.0);
    row("insight: typescript+eslint+runtime", ours.0, ours.0);
    match oxlint(tools, lint_dir) {
        Ok(seconds) => row("oxlint --threads=1 (default rules)", seconds, ours.0),
        Err(error) => println!("oxlint: not measured ({error:#})"),
    }
    match eslint(tools, work, lint_dir) {
        Ok(seconds) => row("eslint (js recommended)", seconds, ours.0),
        Err(error) => println!("eslint: not measured ({error:#})"),
    }
    println!("   ratio = ours seconds ÷ tool seconds (below 1: the tool is slower); target ours ≥ 50 MB/s/core");
    Ok(())
}

fn secrets_section(
    args: &DetectorsArgs,
    kingfisher_path: &Path,
    text_dir: &Path,
    text_bytes: u64,
) -> anyhow::Result<()> {
    println!(
        "\n== (b) secret scanning on one core ({} runs, fastest)",
        args.runs
    );
    let secrets_only: Arc<dyn Detector> = Arc::new(SecretsOnly);
    let ours_secrets = time_engine(text_dir, &[], args.runs, Some(secrets_only.clone()))?;
    println!("tool                                   |  seconds |  MB/s/core | ratio to ours");
    let row = |name: &str, seconds: f64, baseline: f64| {
        println!(
            "{name:<38} | {seconds:>8.2} | {:>10.1} | {:>6.2}",
            text_bytes as f64 / MB / seconds,
            baseline / seconds
        );
    };
    row(
        "insight: secrets (walk+read+scan)",
        ours_secrets.0,
        ours_secrets.0,
    );
    match kingfisher(kingfisher_path, text_dir) {
        Ok((seconds, _)) => row("kingfisher -j 1 --no-validate", seconds, ours_secrets.0),
        Err(error) => println!("kingfisher: not measured ({error:#})"),
    }
    println!(
        "   findings on this clean code: insight secrets {}",
        ours_secrets.1.findings.len()
    );
    println!("   target ours ≥ 40 MB/s/core");
    Ok(())
}

fn planted_section(
    args: &DetectorsArgs,
    kingfisher_path: &Path,
    work: &Path,
) -> anyhow::Result<()> {
    println!("\n== (c) planted secrets and decoys");
    let planted_dir = work.join("planted");
    let planted = planted::generate(&planted_dir, args.planted_per_kind)?;
    let report = Engine::default().run(
        &planted_dir,
        &["security".to_owned()],
        &RunOptions {
            skipped_dirs: vec![],
            ..RunOptions::default()
        },
    )?;
    let ours_found: Vec<(String, u32)> = report
        .findings
        .iter()
        .map(|finding| (finding.file_path.clone(), finding.line))
        .collect();
    print_recall("insight security", &planted, &ours_found);
    match kingfisher(kingfisher_path, &planted_dir) {
        Ok((_, found)) => {
            let prefix = format!("{}/", planted_dir.display());
            let found: Vec<(String, u32)> = found
                .into_iter()
                .map(|(path, line)| (path.strip_prefix(&prefix).unwrap_or(&path).to_owned(), line))
                .collect();
            print_recall("kingfisher", &planted, &found);
        }
        Err(error) => println!("kingfisher: not measured ({error:#})"),
    }
    Ok(())
}

/// The files of the corpus the engine would analyse (walked, not binary, minified, generated
/// or over 1 MB), and among them the JS ones for linting, spread over packages, up to a budget.
struct Selection {
    lint: Vec<(String, u64)>,
    text: Vec<(String, u64)>,
}

fn select_files(npm: &Path, lint_budget: u64) -> anyhow::Result<Selection> {
    let walked = detectors::walk::walk(npm, &[], detectors::DEFAULT_MAX_FILE_BYTES);
    let mut text = Vec::new();
    let mut by_package: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for file in walked.files {
        let bytes = std::fs::read(&file.absolute)?;
        if detectors::walk::classify_content(&file.relative, &bytes).is_err()
            || std::str::from_utf8(&bytes).is_err()
        {
            continue;
        }
        let size = bytes.len() as u64;
        let is_js = [".js", ".mjs", ".cjs"]
            .iter()
            .any(|extension| file.relative.ends_with(extension));
        if is_js {
            let package = file.relative.split('/').next().unwrap_or("").to_owned();
            by_package
                .entry(package)
                .or_default()
                .push((file.relative.clone(), size));
        }
        text.push((file.relative, size));
    }
    // Round robin over packages so no single package dominates the lint set.
    let mut lint = Vec::new();
    let mut total = 0;
    let mut queues: Vec<std::vec::IntoIter<(String, u64)>> =
        by_package.into_values().map(Vec::into_iter).collect();
    'fill: loop {
        let mut progressed = false;
        for queue in &mut queues {
            if let Some((path, size)) = queue.next() {
                progressed = true;
                if total + size > lint_budget {
                    continue;
                }
                total += size;
                lint.push((path, size));
            }
        }
        if !progressed {
            break 'fill;
        }
    }
    lint.sort();
    Ok(Selection { lint, text })
}

fn materialize(from: &Path, to: &Path, files: &[(String, u64)]) -> anyhow::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    for (relative, _) in files {
        let target = to.join(relative);
        std::fs::create_dir_all(target.parent().expect("a file has a folder"))?;
        std::fs::copy(from.join(relative), &target)
            .with_context(|| format!("copying {relative}"))?;
    }
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Runs the engine on one thread `runs` times; returns the fastest time and its report.
fn time_engine(
    root: &Path,
    detectors: &[&str],
    runs: usize,
    only: Option<Arc<dyn Detector>>,
) -> anyhow::Result<(f64, Report)> {
    let engine = match only {
        Some(detector) => Engine::new(Registry::with_detectors(vec![detector])),
        None => Engine::default(),
    };
    let names: Vec<String> = detectors.iter().map(|name| (*name).to_owned()).collect();
    let options = RunOptions {
        threads: Some(1),
        skipped_dirs: vec![],
        ..RunOptions::default()
    };
    let mut best: Option<(f64, Report)> = None;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let report = engine.run(root, &names, &options)?;
        let seconds = started.elapsed().as_secs_f64();
        if best.as_ref().is_none_or(|(fastest, _)| seconds < *fastest) {
            best = Some((seconds, report));
        }
    }
    Ok(best.expect("at least one run"))
}

/// The `security` detector's secret scan alone (no JS sinks, so no parsing).
struct SecretsOnly;

impl Detector for SecretsOnly {
    fn name(&self) -> &'static str {
        "secrets"
    }

    fn description(&self) -> &'static str {
        "secret scanning only (benchmark)"
    }

    fn check_file(
        &self,
        file: &SourceFile<'_>,
        _js: Option<&detectors::js::ParsedJs<'_>>,
        out: &mut FileSink<'_>,
    ) {
        for found in secrets::scan(file.path, file.text) {
            out.report(&found.rule, found.start, found.end, found.label);
        }
    }
}

fn timed(command: &mut Command, timeout: Duration) -> anyhow::Result<(f64, Vec<u8>)> {
    let started = Instant::now();
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start")?;
    let output = child.wait_with_output()?;
    let seconds = started.elapsed().as_secs_f64();
    if seconds > timeout.as_secs_f64() {
        println!("   (took longer than {} s)", timeout.as_secs());
    }
    // Linters exit with 1 and Kingfisher with 200 when they find something: only a signal or
    // a usage or internal error is a failure.
    match output.status.code() {
        Some(0 | 1 | 200..=205) => Ok((seconds, output.stdout)),
        other => anyhow::bail!("exited with {other:?}"),
    }
}

fn oxlint(tools: &Path, dir: &Path) -> anyhow::Result<f64> {
    let binary = tools.join("node_modules/.bin/oxlint");
    anyhow::ensure!(binary.exists(), "{} missing", binary.display());
    let (seconds, _) = timed(
        Command::new(binary)
            .args(["--threads=1", "-f", "json"])
            .arg(dir),
        Duration::from_secs(300),
    )?;
    Ok(seconds)
}

fn eslint(tools: &Path, work: &Path, dir: &Path) -> anyhow::Result<f64> {
    let cli = tools.join("node_modules/eslint/bin/eslint.js");
    let recommended = tools.join("node_modules/@eslint/js/src/index.js");
    anyhow::ensure!(
        cli.exists() && recommended.exists(),
        "eslint not installed in {}",
        tools.display()
    );
    // ESLint 9 ignores files outside its config's folder: the config sits in the work folder.
    let config = work.join("eslint.config.mjs");
    std::fs::write(
        &config,
        format!(
            "import js from {:?};\nexport default [js.configs.recommended, {{ languageOptions: {{ ecmaVersion: 'latest', sourceType: 'module' }} }}, {{ files: ['**/*.cjs'], languageOptions: {{ sourceType: 'commonjs' }} }}];\n",
            recommended.display().to_string()
        ),
    )?;
    let (seconds, _) = timed(
        Command::new("node")
            .arg(cli)
            .args(["--no-config-lookup", "-c"])
            .arg(&config)
            .args(["-f", "json", "--no-warn-ignored"])
            .arg(dir)
            .current_dir(work),
        Duration::from_secs(900),
    )?;
    Ok(seconds)
}

/// Runs Kingfisher on one thread without validation; returns its time and (path, line) found.
fn kingfisher(binary: &Path, dir: &Path) -> anyhow::Result<(f64, Vec<(String, u32)>)> {
    anyhow::ensure!(binary.exists(), "{} missing", binary.display());
    let (seconds, stdout) = timed(
        Command::new(binary).arg("scan").arg(dir).args([
            "--no-validate",
            "--no-update-check",
            "-j",
            "1",
            "--format",
            "json",
        ]),
        Duration::from_secs(600),
    )?;
    let document: serde_json::Value = serde_json::from_slice(
        stdout
            .split(|byte| *byte == b'\n')
            .next()
            .unwrap_or_default(),
    )
    .context("kingfisher JSON output")?;
    let found = document["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .filter_map(|finding| {
                    let finding = &finding["finding"];
                    Some((
                        finding["path"].as_str()?.to_owned(),
                        u32::try_from(finding["line"].as_u64()?).ok()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((seconds, found))
}

fn print_recall(tool: &str, planted: &planted::Planted, found: &[(String, u32)]) {
    let hit = |item: &planted::Item| {
        found.iter().any(|(path, line)| {
            *path == item.path && (item.first_line..=item.last_line).contains(line)
        })
    };
    let mut by_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for item in &planted.secrets {
        let entry = by_kind.entry(item.kind).or_default();
        entry.1 += 1;
        if hit(item) {
            entry.0 += 1;
        }
    }
    let found_secrets: usize = by_kind.values().map(|(found, _)| found).sum();
    let decoys_reported: Vec<&planted::Item> =
        planted.decoys.iter().filter(|item| hit(item)).collect();
    let mut missed = String::new();
    for (kind, (found, total)) in &by_kind {
        if found < total {
            let _ = write!(missed, " {kind} {found}/{total};");
        }
    }
    println!(
        "{tool:<18} recall {found_secrets}/{} ({:.1}%), decoys reported {}/{}{}{}",
        planted.secrets.len(),
        100.0 * found_secrets as f64 / planted.secrets.len() as f64,
        decoys_reported.len(),
        planted.decoys.len(),
        if missed.is_empty() {
            String::new()
        } else {
            format!("; missed:{missed}")
        },
        if decoys_reported.is_empty() {
            String::new()
        } else {
            let mut kinds: Vec<&str> = decoys_reported.iter().map(|item| item.kind).collect();
            kinds.dedup();
            format!("; decoys hit: {}", kinds.join(", "))
        },
    );
}

fn print_density(report: &Report) {
    let lines = report.stats.lines_analyzed.max(1) as f64;
    let mut by_detector: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_rule: BTreeMap<(String, String), usize> = BTreeMap::new();
    for finding in &report.findings {
        *by_detector.entry(finding.detector.as_str()).or_default() += 1;
        *by_rule
            .entry((finding.detector.clone(), finding.rule_id.clone()))
            .or_default() += 1;
    }
    println!(
        "{} files, {} lines, {} findings: {:.2} per 1000 lines ({:.1} s on all cores)",
        report.stats.files_analyzed,
        report.stats.lines_analyzed,
        report.findings.len(),
        report.findings.len() as f64 * 1000.0 / lines,
        report.stats.duration_ms as f64 / 1000.0
    );
    let not_style = report
        .findings
        .iter()
        .filter(|finding| finding.category != detectors::Category::Style)
        .count();
    println!(
        "   without style rules (no-var, prefer-const: published code is often ES5 output): {not_style} findings, {:.2} per 1000 lines",
        not_style as f64 * 1000.0 / lines
    );
    let detectors: Vec<String> = by_detector
        .iter()
        .map(|(detector, count)| format!("{detector} {:.2}", *count as f64 * 1000.0 / lines))
        .collect();
    println!("   per 1000 lines by detector: {}", detectors.join(", "));
    let mut rules: Vec<((String, String), usize)> = by_rule.into_iter().collect();
    rules.sort_by_key(|rule| std::cmp::Reverse(rule.1));
    let top: Vec<String> = rules
        .iter()
        .take(10)
        .map(|((detector, rule), count)| format!("{detector}/{rule} {count}"))
        .collect();
    println!("   most frequent rules: {}", top.join(", "));
}

/// Realistic-format fake secrets and decoys, written as small source and config files, with
/// where each one is. Values come from a seeded generator, so runs are comparable.
pub mod planted {
    use std::fmt::Write as _;
    use std::path::Path;

    pub struct Item {
        pub kind: &'static str,
        pub path: String,
        pub first_line: u32,
        pub last_line: u32,
    }

    #[derive(Default)]
    pub struct Planted {
        pub secrets: Vec<Item>,
        pub decoys: Vec<Item>,
    }

    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn string(&mut self, length: usize, alphabet: &str) -> String {
            let alphabet = alphabet.as_bytes();
            (0..length)
                .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
                .collect()
        }
    }

    const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const HEX: &str = "0123456789abcdef";
    const DIGITS: &str = "0123456789";
    const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn base64url(bytes: &[u8]) -> String {
        let alphabet = B64URL.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            for index in 0..=chunk.len() {
                out.push(alphabet[((n >> (18 - 6 * index)) & 63) as usize] as char);
            }
        }
        out
    }

    /// One kind of secret: a file name and the lines around the value.
    type Maker = fn(&mut Random) -> (&'static str, String);

    const SECRETS: &[(&str, Maker)] = &[
        ("aws-access-key-id", |r| {
            ("config/aws.js", format!("export const s3 = new S3Client({{\n  region: 'eu-west-1',\n  credentials: {{ accessKeyId: 'AKIA{}', secretAccessKey: process.env.AWS_SECRET }},\n}});\n", r.string(16, UPPER_DIGITS)))
        }),
        ("aws-secret-access-key", |r| {
            (
                "deploy/settings.py",
                format!(
                    "AWS_REGION = \"us-east-1\"\nAWS_SECRET_ACCESS_KEY = \"{}\"\n",
                    r.string(40, B64)
                ),
            )
        }),
        ("github-token", |r| {
            (
                "scripts/release.ts",
                format!(
                    "const octokit = new Octokit({{\n  auth: \"ghp_{}\",\n}});\n",
                    r.string(36, ALNUM)
                ),
            )
        }),
        ("github-fine-grained", |r| {
            (
                "ci/publish.sh",
                format!(
                    "#!/bin/sh\nexport GH_TOKEN=github_pat_{}_{}\ngh release create \"$TAG\"\n",
                    r.string(22, ALNUM),
                    r.string(59, ALNUM)
                ),
            )
        }),
        ("gitlab-token", |r| {
            ("tools/mirror.py", format!("import gitlab\ngl = gitlab.Gitlab('https://gitlab.com', private_token='glpat-{}')\n", r.string(20, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")))
        }),
        ("slack-bot-token", |r| {
            (
                "src/notify.js",
                format!(
                    "const slack = new WebClient(\n  'xoxb-{}-{}-{}'\n);\n",
                    r.string(12, DIGITS),
                    r.string(13, DIGITS),
                    r.string(24, ALNUM)
                ),
            )
        }),
        ("slack-webhook", |r| {
            ("config/alerts.yaml", format!("alerts:\n  slack_webhook: https://hooks.slack.com/services/T{}/B{}/{}\n  channel: '#ops'\n", r.string(8, UPPER_DIGITS), r.string(10, UPPER_DIGITS), r.string(24, ALNUM)))
        }),
        ("stripe-live-key", |r| {
            ("server/billing.ts", format!("import Stripe from 'stripe';\nexport const stripe = new Stripe('sk_live_51{}', {{ apiVersion: '2024-06-20' }});\n", r.string(97, ALNUM)))
        }),
        ("npm-token", |r| {
            (".npmrc", format!("registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=npm_{}\n", r.string(36, ALNUM)))
        }),
        ("openai-project-key", |r| {
            (
                "app/llm.py",
                format!(
                    "from openai import OpenAI\nclient = OpenAI(api_key=\"sk-proj-{}\")\n",
                    r.string(156, B64URL)
                ),
            )
        }),
        ("openai-legacy-key", |r| {
            (
                "src/ai.js",
                format!(
                    "const openai = new OpenAI({{ apiKey: 'sk-{}T3BlbkFJ{}' }});\n",
                    r.string(20, ALNUM),
                    r.string(20, ALNUM)
                ),
            )
        }),
        ("google-api-key", |r| {
            ("web/maps.js", format!("const MAPS_URL = `https://maps.googleapis.com/maps/api/js?key=AIza{}&libraries=places`;\n", r.string(35, B64URL)))
        }),
        ("azure-storage-key", |r| {
            ("appsettings.json", format!("{{\n  \"Storage\": {{\n    \"ConnectionString\": \"DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey={}==;EndpointSuffix=core.windows.net\"\n  }}\n}}\n", r.string(86, B64)))
        }),
        ("twilio-api-key", |r| {
            (
                "src/sms.ts",
                format!(
                    "const client = twilio('SK{}', process.env.TWILIO_SECRET, {{ accountSid }});\n",
                    r.string(32, HEX)
                ),
            )
        }),
        ("sendgrid-api-key", |r| {
            (
                "mailer/index.js",
                format!(
                    "sgMail.setApiKey('SG.{}.{}');\n",
                    r.string(22, B64URL),
                    r.string(43, B64URL)
                ),
            )
        }),
        ("private-key", |r| {
            let mut key = String::from("const signingKey = `-----BEGIN RSA PRIVATE KEY-----\n");
            for _ in 0..8 {
                let _ = writeln!(key, "{}", r.string(64, B64));
            }
            key.push_str("-----END RSA PRIVATE KEY-----`;\n");
            ("keys/sign.js", key)
        }),
        ("jwt", |r| {
            let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
            let payload = base64url(
                format!(
                    r#"{{"sub":"{}","role":"admin","iat":1767225600}}"#,
                    r.string(12, DIGITS)
                )
                .as_bytes(),
            );
            (
                "test-client/request.go",
                format!(
                    "package client\n\nconst bearer = \"Bearer {header}.{payload}.{}\"\n",
                    r.string(43, B64URL)
                ),
            )
        }),
        ("url-with-password", |r| {
            ("docker/.env", format!("NODE_ENV=production\nDATABASE_URL=postgres://app_user:{}@db.acme-prod.internal.net:5432/app\n", r.string(20, ALNUM)))
        }),
        ("generic-secret", |r| {
            (
                "src/session.js",
                format!(
                    "app.use(session({{\n  secret: '{}',\n  resave: false,\n}}));\n",
                    r.string(
                        32,
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%&*+-"
                    )
                ),
            )
        }),
        ("generic-env", |r| {
            (
                "service/.env.production",
                format!("PORT=8080\nJWT_SIGNING_SECRET={}\n", r.string(40, ALNUM)),
            )
        }),
    ];

    const DECOYS: &[(&str, Maker)] = &[
        ("aws-documentation-example", |_| {
            ("docs/aws.js", "const creds = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };\n".to_owned())
        }),
        ("placeholder-token", |_| {
            (
                "src/gh.js",
                "const token = 'ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';\n".to_owned(),
            )
        }),
        ("placeholder-env", |_| {
            (".env.example", "STRIPE_SECRET_KEY=sk_live_your_key_here\nAPI_KEY=<your-api-key>\nDB_PASSWORD=changeme\n".to_owned())
        }),
        ("environment-reference", |_| {
            ("src/config.ts", "export const config = {\n  apiKey: process.env.API_KEY,\n  password: process.env.DB_PASSWORD ?? '',\n  token: `${process.env.GITHUB_TOKEN}`,\n};\n".to_owned())
        }),
        ("lockfile-integrity", |r| {
            ("package-lock.json", format!("{{\n  \"packages\": {{\n    \"node_modules/left-pad\": {{\n      \"version\": \"1.3.0\",\n      \"integrity\": \"sha512-{}==\"\n    }}\n  }}\n}}\n", r.string(86, B64)))
        }),
        ("yarn-lock-hash", |r| {
            ("yarn.lock", format!("left-pad@^1.3.0:\n  version \"1.3.0\"\n  resolved \"https://registry.yarnpkg.com/left-pad/-/left-pad-1.3.0.tgz#{}\"\n  integrity sha1-{}=\n", r.string(40, HEX), r.string(27, B64)))
        }),
        ("uuid", |r| {
            (
                "src/ids.js",
                format!(
                    "const idempotencyKey = '{}-{}-4{}-a{}-{}';\n",
                    r.string(8, HEX),
                    r.string(4, HEX),
                    r.string(3, HEX),
                    r.string(3, HEX),
                    r.string(12, HEX)
                ),
            )
        }),
        ("commit-sha", |r| {
            (
                "src/version.ts",
                format!("export const commitHash = \"{}\";\n", r.string(40, HEX)),
            )
        }),
        ("checksum", |r| {
            (
                "release/manifest.yaml",
                format!(
                    "artifact: app-1.2.0.tar.gz\nsha256: {}\n",
                    r.string(64, HEX)
                ),
            )
        }),
        ("test-password", |_| {
            ("tests/login.test.js", "it('logs in', async () => {\n  await login({ user: 'alice', password: 'test-password' });\n});\n".to_owned())
        }),
        ("url-without-password", |_| {
            ("src/db.js", "const url = 'postgres://localhost:5432/app';\nconst repo = 'https://git@github.com/acme/app.git';\n".to_owned())
        }),
        ("css-hash-class", |r| {
            (
                "src/styles.js",
                format!(
                    "const className = 'css-{}';\n",
                    r.string(12, "abcdefghijklmnopqrstuvwxyz0123456789")
                ),
            )
        }),
        ("data-uri", |r| {
            (
                "src/icon.js",
                format!(
                    "export const icon = 'data:image/png;base64,{}';\n",
                    r.string(120, B64)
                ),
            )
        }),
        ("i18n-key", |_| {
            ("src/i18n.js", "const messages = { passwordTooShort: 'Your password must be at least 12 characters long' };\n".to_owned())
        }),
        ("secret-name-not-value", |_| {
            (
                "src/keys.js",
                "const SECRET_HEADER = 'x-webhook-signature';\nconst tokenType = 'Bearer';\n"
                    .to_owned(),
            )
        }),
    ];

    /// Writes `per_kind` files for every secret kind and every decoy kind under `dir`.
    pub fn generate(dir: &Path, per_kind: usize) -> std::io::Result<Planted> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        let mut random = Random(0x5EED_1234_ABCD_0001);
        let mut planted = Planted::default();
        for (set, list) in [(true, SECRETS), (false, DECOYS)] {
            for (kind, make) in list {
                for index in 0..per_kind {
                    let (name, text) = make(&mut random);
                    // `a/b.js` → `<kind>-<n>/a/b.js`: every instance in a file of its own.
                    let path = format!("{kind}-{index}/{name}");
                    let full = dir.join(&path);
                    std::fs::create_dir_all(full.parent().expect("has a folder"))?;
                    std::fs::write(&full, &text)?;
                    let item = Item {
                        kind,
                        path,
                        first_line: 1,
                        last_line: text.lines().count() as u32,
                    };
                    if set {
                        planted.secrets.push(item);
                    } else {
                        planted.decoys.push(item);
                    }
                }
            }
        }
        Ok(planted)
    }
}
