use super::secrets::{redact_line, scan, shannon_entropy};
use super::SecurityDetector;
use crate::finding::Severity;
use crate::testing::{check, pseudo_random, rule_ids, ALPHANUMERIC, BASE64, HEX, UPPER_DIGITS};

fn secret_rules(path: &str, text: &str) -> Vec<String> {
    scan(path, text)
        .into_iter()
        .map(|found| found.rule.id.to_owned())
        .collect()
}

fn assert_single(path: &str, text: &str, rule: &str) {
    assert_eq!(
        secret_rules(path, text),
        vec![rule.to_owned()],
        "in {text:?}"
    );
}

#[test]
fn provider_tokens_are_found() {
    let cases = [
        (
            format!("const id = \"AKIA{}\";", pseudo_random(1, 16, UPPER_DIGITS)),
            "aws-access-key-id",
        ),
        (
            format!(
                "aws_secret_access_key = \"{}\"",
                pseudo_random(2, 40, BASE64)
            ),
            "aws-secret-access-key",
        ),
        (
            format!("token: 'ghp_{}'", pseudo_random(3, 36, ALPHANUMERIC)),
            "github-token",
        ),
        (
            format!("t = \"github_pat_{}\"", pseudo_random(4, 82, ALPHANUMERIC)),
            "github-token",
        ),
        (
            format!("GITLAB = 'glpat-{}'", pseudo_random(5, 20, ALPHANUMERIC)),
            "gitlab-token",
        ),
        (
            format!(
                "slack('xoxb-{}-{}')",
                pseudo_random(6, 12, HEX),
                pseudo_random(7, 24, ALPHANUMERIC)
            ),
            "slack-token",
        ),
        (
            format!(
                "url = 'https://hooks.slack.com/services/T{}/B{}/{}'",
                pseudo_random(8, 8, UPPER_DIGITS),
                pseudo_random(9, 8, UPPER_DIGITS),
                pseudo_random(10, 24, ALPHANUMERIC)
            ),
            "slack-webhook-url",
        ),
        (
            format!("stripe('sk_live_{}')", pseudo_random(11, 24, ALPHANUMERIC)),
            "stripe-secret-key",
        ),
        (
            format!(
                "//registry.npmjs.org/:_authToken=npm_{}",
                pseudo_random(12, 36, ALPHANUMERIC)
            ),
            "npm-token",
        ),
        (
            format!(
                "k = 'sk-{}T3BlbkFJ{}'",
                pseudo_random(13, 20, ALPHANUMERIC),
                pseudo_random(14, 20, ALPHANUMERIC)
            ),
            "openai-api-key",
        ),
        (
            format!("maps('AIza{}')", pseudo_random(15, 35, ALPHANUMERIC)),
            "google-api-key",
        ),
        (
            format!(
                "conn = \"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={}==;\"",
                pseudo_random(16, 86, BASE64)
            ),
            "azure-storage-account-key",
        ),
        (
            format!("twilio_key = 'SK{}'", pseudo_random(17, 32, HEX)),
            "twilio-api-key",
        ),
        (
            format!(
                "const twilio = require('twilio')('AC{}')",
                pseudo_random(18, 32, HEX)
            ),
            "twilio-account-sid",
        ),
        (
            format!(
                "sg('SG.{}.{}')",
                pseudo_random(19, 22, ALPHANUMERIC),
                pseudo_random(20, 43, ALPHANUMERIC)
            ),
            "sendgrid-api-key",
        ),
        (
            format!(
                "key = '-----BEGIN RSA PRIVATE KEY-----\\n{}\\n-----END RSA PRIVATE KEY-----'",
                pseudo_random(21, 64, BASE64)
            ),
            "private-key",
        ),
        (
            format!(
                "auth = 'eyJhbGciOiJIUzI1NiJ9.eyJ{}.{}'",
                pseudo_random(22, 30, ALPHANUMERIC),
                pseudo_random(23, 43, ALPHANUMERIC)
            ),
            "jwt",
        ),
        (
            format!(
                "DATABASE_URL = 'postgres://app:{}@db.internal:5432/app'",
                pseudo_random(24, 16, ALPHANUMERIC)
            ),
            "url-with-password",
        ),
        (
            format!(
                "const clientSecret = \"{}\";",
                pseudo_random(25, 32, ALPHANUMERIC)
            ),
            "generic-secret",
        ),
    ];
    for (text, rule) in &cases {
        assert_single("src/config.js", text, rule);
    }
}

#[test]
fn multi_line_private_keys_are_reported_at_the_begin_line() {
    let body: Vec<String> = (0..4).map(|seed| pseudo_random(seed, 64, BASE64)).collect();
    let text = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        body.join("\n")
    );
    let findings = check(&SecurityDetector, "deploy/id_ed25519", &text);
    assert_eq!(rule_ids(&findings), vec!["private-key"]);
    assert_eq!(findings[0].line, 1);
    assert_eq!(findings[0].severity, Severity::Critical);
}

#[test]
fn unquoted_secrets_in_config_files_are_found_but_not_in_code() {
    let line = format!("API_TOKEN={}\n", pseudo_random(30, 32, ALPHANUMERIC));
    assert_eq!(secret_rules(".env", &line), vec!["generic-secret"]);
    assert!(secret_rules("src/a.py", &line).is_empty());
}

#[test]
fn placeholders_examples_and_low_entropy_values_are_not_secrets() {
    let decoys = [
        "const id = \"AKIAIOSFODNN7EXAMPLE\";",
        "aws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"",
        "token: 'ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'",
        "token: 'ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij'",
        "password = \"changeme\"",
        "password = \"${DB_PASSWORD}\"",
        "api_key: \"<your-api-key>\"",
        "password: \"passwordField\"",
        "const PASSWORD_PATTERN = \"^(?=.*[A-Z]).{8,}$\"",
        "passwordLabel = 'Enter your password1'",
        "const token = 'auth.token.expired';",
        "secret = process.env.SECRET_KEY",
        "url = 'postgres://user:password@localhost/db'",
        "url = 'postgres://user:${PASS}@localhost/db'",
        "auth = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'",
        "if (password == \"hunter2x9\") {}",
        "const tokenType = \"Bearer\";",
        "const pwdLength = '12345678';",
        "const accountSid = 'AC0123456789abcdef0123456789abcdef'; // no provider named here",
    ];
    for decoy in decoys {
        assert!(
            secret_rules("src/app.ts", decoy).is_empty(),
            "reported a decoy: {decoy}"
        );
    }
}

#[test]
fn a_provider_token_is_not_reported_twice_by_the_generic_rule() {
    let text = format!(
        "const token = \"ghp_{}\";",
        pseudo_random(40, 36, ALPHANUMERIC)
    );
    assert_eq!(secret_rules("a.js", &text), vec!["github-token"]);
}

#[test]
fn snippets_redact_the_secret_keeping_four_characters() {
    let token = format!("ghp_{}", pseudo_random(41, 36, ALPHANUMERIC));
    let redacted = redact_line(&format!("const t = '{token}';"));
    assert_eq!(redacted, "const t = 'ghp_****';");
    assert!(!redacted.contains(&token[4..]));
    assert_eq!(redact_line("let x = 1;"), "let x = 1;");
}

#[test]
fn secrets_in_test_files_are_reported_with_less_confidence() {
    let text = format!("const t = 'ghp_{}';", pseudo_random(42, 36, ALPHANUMERIC));
    let production = check(&SecurityDetector, "src/a.js", &text);
    let fixture = check(&SecurityDetector, "test/fixtures/a.js", &text);
    assert!(fixture[0].confidence < production[0].confidence);
}

#[test]
fn lockfiles_are_not_scanned_for_secrets() {
    let text = format!(
        "\"integrity\": \"sha512-{}\", \"token\": \"{}\"",
        pseudo_random(43, 64, BASE64),
        pseudo_random(44, 32, ALPHANUMERIC)
    );
    assert!(check(&SecurityDetector, "package-lock.json", &text).is_empty());
}

#[test]
fn entropy_separates_words_from_keys() {
    assert!(shannon_entropy("password") < 3.0);
    assert!(shannon_entropy(&pseudo_random(45, 40, BASE64)) > 4.0);
}

fn sink_rules(path: &str, code: &str) -> Vec<String> {
    check(&SecurityDetector, path, code)
        .into_iter()
        .map(|finding| finding.rule_id)
        .collect()
}

#[test]
fn eval_and_function_constructor_are_reported_unless_shadowed() {
    assert_eq!(sink_rules("a.js", "eval(userInput);\n"), vec!["eval"]);
    assert_eq!(
        sink_rules("a.js", "const f = new Function('a', body);\n"),
        vec!["function-constructor"]
    );
    assert_eq!(
        sink_rules("a.js", "setTimeout('tick()', 10);\n"),
        vec!["string-timer"]
    );
    assert!(sink_rules(
        "a.js",
        "function eval(x) { return x; }\neval(1);\nsetTimeout(() => 1, 10);\n"
    )
    .is_empty());
}

#[test]
fn child_process_with_built_commands_is_reported_but_not_regexp_exec() {
    let bad = "const { exec } = require('child_process');\nexec('ls ' + dir);\n\
               import cp from 'node:child_process';\ncp.execSync(`rm -rf ${path}`);\n\
               const cmd = 'git log ' + ref;\ncp.exec(cmd);\n";
    assert_eq!(sink_rules("a.mjs", bad), vec!["command-injection"; 3]);
    let good =
        "const cp = require('child_process');\ncp.execFile('ls', [dir]);\ncp.exec('ls -la');\n\
                const m = /a(b)/.exec(text + suffix);\n";
    assert!(sink_rules("a.js", good).is_empty());
}

#[test]
fn html_sinks_with_run_time_data_are_reported() {
    let bad = "el.innerHTML = user.bio;\nel.outerHTML += `<b>${name}</b>`;\ndocument.write(location.hash);\n\
               const C = () => <div dangerouslySetInnerHTML={{ __html: html }} />;\n";
    assert_eq!(
        sink_rules("a.jsx", bad),
        vec![
            "inner-html",
            "inner-html",
            "inner-html",
            "dangerously-set-inner-html"
        ]
    );
    let good = "el.innerHTML = '';\nel.textContent = user.bio;\nconst C = () => <div dangerouslySetInnerHTML={{ __html: '<br>' }} />;\n";
    assert!(sink_rules("a.jsx", good).is_empty());
}

#[test]
fn sql_built_by_concatenation_is_reported_but_parameterised_sql_is_not() {
    let bad = "db.query('SELECT * FROM users WHERE id = ' + req.params.id);\n\
               pool.execute(`DELETE FROM sessions WHERE token = '${token}'`);\n\
               const sql = \"UPDATE users SET name = '\" + name + \"'\";\nconn.query(sql);\n";
    assert_eq!(sink_rules("a.ts", bad), vec!["sql-injection"; 3]);
    let good = "db.query('SELECT * FROM users WHERE id = $1', [id]);\n\
                logger.query('searching ' + term);\n";
    assert!(sink_rules("a.ts", good).is_empty());
}

#[test]
fn disabled_tls_verification_is_reported() {
    let bad = "https.request({ host, rejectUnauthorized: false });\nprocess.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';\n";
    assert_eq!(
        sink_rules("a.js", bad),
        vec!["tls-verification-disabled"; 2]
    );
    assert_eq!(
        sink_rules(".env", "NODE_TLS_REJECT_UNAUTHORIZED=0\n"),
        vec!["tls-verification-disabled"]
    );
    assert!(sink_rules(
        "a.js",
        "https.request({ host, rejectUnauthorized: true });\n"
    )
    .is_empty());
}

#[test]
fn weak_hashes_of_passwords_are_reported_but_checksums_are_not() {
    let bad = "const h = crypto.createHash('md5').update(password).digest('hex');\nconst k = sha1(user.passwd);\n";
    assert_eq!(sink_rules("a.js", bad), vec!["weak-password-hash"; 2]);
    let good = "const etag = crypto.createHash('md5').update(body).digest('hex');\n\
                const h = crypto.createHash('sha256').update(password);\n";
    assert!(sink_rules("a.js", good).is_empty());
}
