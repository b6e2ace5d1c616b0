//! `java`: security checks on tree-sitter Java trees. Rules:
//! - `command-injection` (HIGH): `Runtime.getRuntime().exec(...)` or `new ProcessBuilder(...)`
//!   given a string built at run time (`+`, `String.format`, `.formatted`), directly, inside an
//!   argument array, or through a local variable of the same method.
//! - `weak-hash` (MEDIUM): `MessageDigest.getInstance("MD5" | "SHA-1" | "SHA1" | "MD2" | "MD4")`.
//! - `trust-all-certificates` (HIGH): a `TrustManager` whose `checkServerTrusted` is empty.
//! - `hostname-verification-disabled` (HIGH): a `HostnameVerifier` that returns `true`, as a
//!   class, an anonymous class or a lambda handed to `set(Default)HostnameVerifier`.
//! - `sql-injection` (HIGH): `execute`/`executeQuery`/`executeUpdate`/`addBatch` (and
//!   `prepareStatement`/`prepareCall`, where concatenation defeats the preparing) given SQL
//!   built at run time.

use crate::detector::{Detector, FileSink, Rule};
use crate::detectors::tree_sitter_util::{
    ancestor_of_kind, descendants, is_dynamic_concatenation, named_children, parse, text,
    unparenthesized,
};
use crate::finding::{Category, Severity};
use crate::js::ParsedJs;
use crate::source::{Language, SourceFile};
use tree_sitter::Node;

pub const COMMAND_INJECTION: Rule =
    Rule::new("command-injection", Category::Security, Severity::High)
        .confidence(0.8)
        .suggest("Pass the program and each argument separately (new ProcessBuilder(List.of(program, arg))); never build a command line from input.");
pub const WEAK_HASH: Rule = Rule::new("weak-hash", Category::Security, Severity::Medium)
    .confidence(0.85)
    .suggest(
        "Use SHA-256 or stronger; for passwords use a slow hash (bcrypt, scrypt, Argon2, PBKDF2).",
    );
pub const TRUST_ALL_CERTIFICATES: Rule =
    Rule::new("trust-all-certificates", Category::Security, Severity::High)
        .confidence(0.9)
        .suggest("Delete the custom TrustManager and use the platform default; add a private CA to a KeyStore if needed.");
pub const HOSTNAME_VERIFICATION_DISABLED: Rule = Rule::new(
    "hostname-verification-disabled",
    Category::Security,
    Severity::High,
)
.confidence(0.9)
.suggest("Keep the default HostnameVerifier: accepting every host name lets any certificate holder impersonate the server.");
pub const SQL_INJECTION: Rule = Rule::new("sql-injection", Category::Security, Severity::High)
    .confidence(0.8)
    .suggest(
        "Use a PreparedStatement with `?` placeholders and bind the values with setString/setInt.",
    );

const WEAK_DIGESTS: &[&str] = &["MD5", "SHA-1", "SHA1", "MD2", "MD4"];
const SQL_METHODS: &[&str] = &[
    "execute",
    "executeQuery",
    "executeUpdate",
    "executeLargeUpdate",
    "addBatch",
    "prepareStatement",
    "prepareCall",
];
const HOSTNAME_VERIFIER_SETTERS: &[&str] = &[
    "setHostnameVerifier",
    "setDefaultHostnameVerifier",
    "hostnameVerifier",
];
/// Where a local variable's assignments are looked for.
const BODY_KINDS: &[&str] = &[
    "method_declaration",
    "constructor_declaration",
    "lambda_expression",
    "static_initializer",
];

pub struct JavaDetector;

impl Detector for JavaDetector {
    fn name(&self) -> &'static str {
        "java"
    }

    fn description(&self) -> &'static str {
        "Java checks: command and SQL injection, weak hashes, disabled TLS verification"
    }

    fn check_file(
        &self,
        file: &SourceFile<'_>,
        _js: Option<&ParsedJs<'_>>,
        out: &mut FileSink<'_>,
    ) {
        if file.language != Language::Java {
            return;
        }
        let Some(tree) = parse(&tree_sitter_java::LANGUAGE.into(), file.text) else {
            return;
        };
        let java = JavaFile {
            source: file.text.as_bytes(),
        };
        let runtime_variables = java.variables_of_type(tree.root_node(), "Runtime");
        for node in descendants(tree.root_node()) {
            match node.kind() {
                "method_invocation" => {
                    java.check_runtime_exec(node, &runtime_variables, out);
                    java.check_weak_hash(node, out);
                    java.check_sql(node, out);
                    java.check_verifier_lambda_argument(node, out);
                }
                "object_creation_expression" => java.check_process_builder(node, out),
                "method_declaration" => java.check_trust_and_verify_methods(node, out),
                "variable_declarator" => java.check_verifier_lambda_variable(node, out),
                _ => {}
            }
        }
    }
}

fn is_string_literal(node: Node<'_>) -> bool {
    matches!(node.kind(), "string_literal" | "text_block")
}

fn is_literal(node: Node<'_>) -> bool {
    node.kind().ends_with("_literal") || matches!(node.kind(), "text_block" | "true" | "false")
}

/// A block with no statements (comments do not count).
fn is_empty_block(block: Node<'_>) -> bool {
    named_children(block)
        .iter()
        .all(|child| child.kind().ends_with("comment"))
}

struct JavaFile<'s> {
    source: &'s [u8],
}

impl<'s> JavaFile<'s> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.source)
    }

    fn string_value(&self, node: Node<'_>) -> &'s str {
        let raw = self.text(node);
        raw.get(1..raw.len().saturating_sub(1)).unwrap_or("")
    }

    fn arguments<'t>(&self, call: Node<'t>) -> Vec<Node<'t>> {
        call.child_by_field_name("arguments")
            .map(named_children)
            .unwrap_or_default()
            .into_iter()
            .filter(|argument| !argument.kind().ends_with("comment"))
            .collect()
    }

    fn method_name(&self, call: Node<'_>) -> &'s str {
        call.child_by_field_name("name")
            .map_or("", |name| self.text(name))
    }

    /// Names of fields and locals declared with type `type_name` anywhere in the file.
    fn variables_of_type(&self, root: Node<'_>, type_name: &str) -> Vec<&'s str> {
        descendants(root)
            .into_iter()
            .filter(|node| {
                matches!(
                    node.kind(),
                    "local_variable_declaration" | "field_declaration"
                )
            })
            .filter(|declaration| {
                declaration
                    .child_by_field_name("type")
                    .is_some_and(|declared| self.text(declared) == type_name)
            })
            .flat_map(|declaration| {
                let mut cursor = declaration.walk();
                declaration
                    .children_by_field_name("declarator", &mut cursor)
                    .filter_map(|declarator| declarator.child_by_field_name("name"))
                    .map(|name| self.text(name))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// A string built at run time, directly or through a local variable assigned one.
    fn is_built_string(&self, node: Node<'_>) -> bool {
        let node = unparenthesized(node);
        self.is_built_expression(node)
            || (node.kind() == "identifier" && self.is_built_variable(node))
    }

    fn is_built_expression(&self, node: Node<'_>) -> bool {
        let node = unparenthesized(node);
        match node.kind() {
            "binary_expression" => {
                is_dynamic_concatenation(node, "binary_expression", &is_string_literal, &is_literal)
            }
            "method_invocation" => {
                let name = self.method_name(node);
                let object = node
                    .child_by_field_name("object")
                    .map(|object| self.text(object));
                (name == "format" && object == Some("String"))
                    || (name == "formatted" && !self.arguments(node).is_empty())
            }
            _ => false,
        }
    }

    /// Whether `identifier` is given a built string anywhere in its method: `String sql = "..." +
    /// id;`, `sql = String.format(...)` or `sql += id`.
    fn is_built_variable(&self, identifier: Node<'_>) -> bool {
        let name = self.text(identifier);
        let Some(body) = ancestor_of_kind(identifier, BODY_KINDS) else {
            return false;
        };
        descendants(body).into_iter().any(|node| match node.kind() {
            "variable_declarator" => {
                node.child_by_field_name("name")
                    .is_some_and(|declared| self.text(declared) == name)
                    && node
                        .child_by_field_name("value")
                        .is_some_and(|value| self.is_built_expression(value))
            }
            "assignment_expression" => {
                let targets_name = node
                    .child_by_field_name("left")
                    .is_some_and(|left| self.text(left) == name);
                let operator = node
                    .child_by_field_name("operator")
                    .map_or("", |operator| self.text(operator));
                let right = node.child_by_field_name("right");
                targets_name
                    && right.is_some_and(|right| {
                        self.is_built_expression(right) || (operator == "+=" && !is_literal(right))
                    })
            }
            _ => false,
        })
    }

    /// A built string among `arguments`, also inside `new String[] {...}` and `List.of(...)`.
    fn has_built_argument(&self, arguments: &[Node<'_>]) -> bool {
        arguments.iter().any(|argument| {
            let argument = unparenthesized(*argument);
            match argument.kind() {
                "array_creation_expression" => {
                    argument
                        .child_by_field_name("value")
                        .is_some_and(|initializer| {
                            self.has_built_argument(&named_children(initializer))
                        })
                }
                "array_initializer" => self.has_built_argument(&named_children(argument)),
                "method_invocation" if matches!(self.method_name(argument), "of" | "asList") => {
                    self.has_built_argument(&self.arguments(argument))
                }
                _ => self.is_built_string(argument),
            }
        })
    }

    fn check_runtime_exec(
        &self,
        call: Node<'_>,
        runtime_variables: &[&str],
        out: &mut FileSink<'_>,
    ) {
        if self.method_name(call) != "exec" {
            return;
        }
        let is_runtime = call.child_by_field_name("object").is_some_and(|object| {
            (object.kind() == "method_invocation" && self.method_name(object) == "getRuntime")
                || (object.kind() == "identifier" && runtime_variables.contains(&self.text(object)))
        });
        if is_runtime && self.has_built_argument(&self.arguments(call)) {
            out.report(
                &COMMAND_INJECTION,
                call.start_byte(),
                call.end_byte(),
                "Runtime.exec runs a command built at run time: command injection",
            );
        }
    }

    fn check_process_builder(&self, creation: Node<'_>, out: &mut FileSink<'_>) {
        let is_process_builder = creation
            .child_by_field_name("type")
            .is_some_and(|created| self.text(created).ends_with("ProcessBuilder"));
        if is_process_builder && self.has_built_argument(&self.arguments(creation)) {
            out.report(
                &COMMAND_INJECTION,
                creation.start_byte(),
                creation.end_byte(),
                "ProcessBuilder starts a command built at run time: command injection",
            );
        }
    }

    fn check_weak_hash(&self, call: Node<'_>, out: &mut FileSink<'_>) {
        let is_digest_factory = self.method_name(call) == "getInstance"
            && call
                .child_by_field_name("object")
                .is_some_and(|object| self.text(object).ends_with("MessageDigest"));
        if !is_digest_factory {
            return;
        }
        let arguments = self.arguments(call);
        let Some(algorithm) = arguments.first().filter(|first| is_string_literal(**first)) else {
            return;
        };
        let algorithm = self.string_value(*algorithm);
        if WEAK_DIGESTS
            .iter()
            .any(|weak| weak.eq_ignore_ascii_case(algorithm))
        {
            out.report(
                &WEAK_HASH,
                call.start_byte(),
                call.end_byte(),
                format!("{algorithm} is broken: collisions can be forged"),
            );
        }
    }

    fn check_sql(&self, call: Node<'_>, out: &mut FileSink<'_>) {
        let method = self.method_name(call);
        if !SQL_METHODS.contains(&method) {
            return;
        }
        let arguments = self.arguments(call);
        if arguments
            .first()
            .is_some_and(|sql| self.is_built_string(*sql))
        {
            out.report(
                &SQL_INJECTION,
                call.start_byte(),
                call.end_byte(),
                format!("{method}() is given SQL built from run-time values: SQL injection"),
            );
        }
    }

    /// The declared supertypes of the class around `method`: its `implements`/`extends` list,
    /// or the type an anonymous class is created from.
    fn enclosing_supertypes(&self, method: Node<'_>) -> &'s str {
        let Some(class) = method.parent().and_then(|body| body.parent()) else {
            return "";
        };
        match class.kind() {
            "class_declaration" | "enum_declaration" | "record_declaration" => {
                let start = class
                    .child_by_field_name("name")
                    .map_or(class.start_byte(), |name| name.end_byte());
                let end = class
                    .child_by_field_name("body")
                    .map_or(class.end_byte(), |body| body.start_byte());
                std::str::from_utf8(&self.source[start..end]).unwrap_or("")
            }
            "object_creation_expression" => class
                .child_by_field_name("type")
                .map_or("", |created| self.text(created)),
            _ => "",
        }
    }

    fn check_trust_and_verify_methods(&self, method: Node<'_>, out: &mut FileSink<'_>) {
        let name = self.method_name(method);
        let Some(body) = method.child_by_field_name("body") else {
            return;
        };
        match name {
            "checkServerTrusted"
                if self.enclosing_supertypes(method).contains("TrustManager")
                    && is_empty_block(body) =>
            {
                out.report(
                    &TRUST_ALL_CERTIFICATES,
                    method.start_byte(),
                    method.end_byte(),
                    "checkServerTrusted accepts every certificate: TLS connections can be intercepted",
                );
            }
            "verify"
                if self
                    .enclosing_supertypes(method)
                    .contains("HostnameVerifier")
                    && self.always_returns_true(body) =>
            {
                self.report_verifier(method, out);
            }
            _ => {}
        }
    }

    /// `true`, or a block whose only statement is `return true;`.
    fn always_returns_true(&self, body: Node<'_>) -> bool {
        match body.kind() {
            "true" => true,
            "block" => {
                let statements: Vec<Node<'_>> = named_children(body)
                    .into_iter()
                    .filter(|statement| !statement.kind().ends_with("comment"))
                    .collect();
                matches!(statements.as_slice(), [only] if only.kind() == "return_statement"
                    && only.named_child(0).is_some_and(|value| value.kind() == "true"))
            }
            _ => false,
        }
    }

    fn is_permissive_lambda(&self, node: Node<'_>) -> bool {
        node.kind() == "lambda_expression"
            && node
                .child_by_field_name("body")
                .is_some_and(|body| self.always_returns_true(body))
    }

    fn check_verifier_lambda_argument(&self, call: Node<'_>, out: &mut FileSink<'_>) {
        if !HOSTNAME_VERIFIER_SETTERS.contains(&self.method_name(call)) {
            return;
        }
        for argument in self.arguments(call) {
            if self.is_permissive_lambda(argument) {
                self.report_verifier(argument, out);
            }
        }
    }

    fn check_verifier_lambda_variable(&self, declarator: Node<'_>, out: &mut FileSink<'_>) {
        let declared_type = declarator
            .parent()
            .and_then(|declaration| declaration.child_by_field_name("type"))
            .map_or("", |declared| self.text(declared));
        if let Some(value) = declarator.child_by_field_name("value") {
            if declared_type.ends_with("HostnameVerifier") && self.is_permissive_lambda(value) {
                self.report_verifier(value, out);
            }
        }
    }

    fn report_verifier(&self, node: Node<'_>, out: &mut FileSink<'_>) {
        out.report(
            &HOSTNAME_VERIFICATION_DISABLED,
            node.start_byte(),
            node.end_byte(),
            "This HostnameVerifier accepts every host name: any valid certificate impersonates the server",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check, rule_ids};

    fn lines_of(rule: &str, code: &str) -> Vec<u32> {
        check(&JavaDetector, "src/main/java/App.java", code)
            .into_iter()
            .filter(|finding| finding.rule_id == rule)
            .map(|finding| finding.line)
            .collect()
    }

    #[test]
    fn commands_built_at_run_time_are_injection() {
        let code = r#"class Shell {
    private final Runtime runtime = Runtime.getRuntime();
    void run(String dir, String name) throws Exception {
        Runtime.getRuntime().exec("ls " + dir);
        runtime.exec(new String[] {"sh", "-c", "rm " + name});
        new ProcessBuilder("bash", "-c", String.format("cat %s", name)).start();
        String command = "tar xf " + name;
        Runtime.getRuntime().exec(command);
        Runtime.getRuntime().exec("ls -l");
        new ProcessBuilder("ls", dir).start();
        executor.exec(dir + name);
    }
}
"#;
        assert_eq!(lines_of("command-injection", code), vec![4, 5, 6, 8]);
    }

    #[test]
    fn weak_message_digests_are_reported() {
        let code = r#"class Hashes {
    void f() throws Exception {
        MessageDigest.getInstance("MD5");
        java.security.MessageDigest.getInstance("sha1");
        MessageDigest.getInstance("SHA-1");
        MessageDigest.getInstance("SHA-256");
        KeyFactory.getInstance("MD5");
    }
}
"#;
        assert_eq!(lines_of("weak-hash", code), vec![3, 4, 5]);
    }

    #[test]
    fn trust_managers_that_check_nothing_are_reported() {
        let code = r#"class TrustAll implements X509TrustManager {
    public void checkClientTrusted(X509Certificate[] chain, String type) {}
    public void checkServerTrusted(X509Certificate[] chain, String type) {
        // trust everyone
    }
    public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
}
class Pinned implements X509TrustManager {
    public void checkServerTrusted(X509Certificate[] chain, String type) throws CertificateException {
        delegate.checkServerTrusted(chain, type);
    }
}
class Unrelated {
    public void checkServerTrusted(Object a, String b) {}
}
"#;
        assert_eq!(lines_of("trust-all-certificates", code), vec![3]);
    }

    #[test]
    fn hostname_verifiers_returning_true_are_reported() {
        let code = r#"class Tls {
    void f(HttpsURLConnection connection, OkHttpClient.Builder builder) {
        HttpsURLConnection.setDefaultHostnameVerifier((host, session) -> true);
        HostnameVerifier any = (host, session) -> { return true; };
        connection.setHostnameVerifier(new HostnameVerifier() {
            public boolean verify(String host, SSLSession session) {
                return true;
            }
        });
        builder.hostnameVerifier((host, session) -> host.equals(expected));
        HostnameVerifier strict = (host, session) -> host.endsWith(".example.com");
    }
}
class AllowAll implements HostnameVerifier {
    public boolean verify(String host, SSLSession session) { return true; }
}
"#;
        assert_eq!(
            lines_of("hostname-verification-disabled", code),
            vec![3, 4, 6, 15]
        );
    }

    #[test]
    fn sql_built_by_concatenation_is_injection() {
        let code = r#"class Repo {
    void find(Statement statement, Connection connection, String id, String name) throws Exception {
        statement.executeQuery("SELECT * FROM users WHERE id = " + id);
        String sql = "DELETE FROM users WHERE name = '" + name + "'";
        statement.executeUpdate(sql);
        String query = "SELECT * FROM t WHERE a = 1";
        query += " AND b = " + id;
        statement.execute(query);
        connection.prepareStatement("SELECT * FROM users WHERE id = " + id);
        PreparedStatement prepared = connection.prepareStatement("SELECT * FROM users WHERE id = ?");
        prepared.setString(1, id);
        prepared.executeQuery();
        statement.executeQuery("SELECT 1 FROM " + "dual");
        String fixed = "SELECT 2";
        statement.execute(fixed);
    }
}
"#;
        assert_eq!(lines_of("sql-injection", code), vec![3, 5, 8, 9]);
    }

    #[test]
    fn clean_code_and_other_languages_have_no_findings() {
        let clean = r#"class Clean {
    byte[] digest(byte[] data) throws Exception {
        Process process = new ProcessBuilder(List.of("git", "status")).start();
        return MessageDigest.getInstance("SHA-256").digest(data);
    }
}
"#;
        assert!(rule_ids(&check(&JavaDetector, "Clean.java", clean)).is_empty());
        assert!(check(&JavaDetector, "a.go", "package main\n").is_empty());
    }
}
