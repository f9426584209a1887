//! Reading `CEDAR_POLICIES` (a `.cedar` file, or a folder of them) and `CEDAR_SCHEMA` (Cedar's
//! human format, or JSON by the `.json` extension), and validating the policies against the
//! schema. Every problem is reported at once, each as `file:line:column: message`, so that one
//! start-up shows everything to fix.

use cedar_policy::{Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic;
use std::path::{Path, PathBuf};

/// The policy files, read and parsed, with their policies' ids.
pub struct Loaded {
    /// Every policy, each under its id: its `@id("...")` annotation, else `{file name}#{n}`.
    pub policies: PolicySet,
    /// The schema, when one was given.
    pub schema: Option<Schema>,
    /// Validator warnings and other things worth a look, as `file:line:column: message`.
    pub warnings: Vec<String>,
}

/// A source file, kept to turn byte offsets into lines and columns.
struct Source {
    shown: String,
    text: String,
}

impl Source {
    /// `file:line:column` of a byte offset.
    fn at(&self, offset: usize) -> String {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}", self.shown)
    }

    /// `file:line:column: message` for a diagnostic whose labels point into this file (the
    /// first label; `file: message` when it has none).
    fn describe(&self, diagnostic: &dyn Diagnostic, prefix: &str) -> Vec<String> {
        let mut message = diagnostic.to_string();
        if let Some(help) = diagnostic.help() {
            message.push_str("; ");
            message.push_str(&help.to_string());
        }
        let first = diagnostic.labels().and_then(|mut labels| labels.next());
        let mut lines = vec![match first {
            Some(label) => format!("{}: {prefix}{message}", self.at(label.offset())),
            None => format!("{}: {prefix}{message}", self.shown),
        }];
        if let Some(related) = diagnostic.related() {
            for related in related {
                lines.extend(self.describe(related, prefix));
            }
        }
        lines
    }
}

/// Reads, parses and validates the policies (and the schema).
///
/// # Errors
/// Every problem found, each naming its file, line and column where the parser or validator
/// gives one.
pub fn load(policies: &Path, schema: Option<&Path>) -> Result<Loaded, Vec<String>> {
    let mut problems = Vec::new();
    let files = policy_files(policies).map_err(|p| vec![p])?;
    let mut sources: Vec<Source> = Vec::new();
    // Which source each policy came from, for the validator's messages.
    let mut origin: Vec<(PolicyId, usize)> = Vec::new();
    let mut set = PolicySet::new();
    for file in &files {
        let shown = file.display().to_string();
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("{shown}: cannot be read: {e}"));
                continue;
            }
        };
        let source = Source { shown, text };
        // Cedar's parser, not `PolicySet::from_str`: that keeps each policy's text beside it,
        // which nothing here needs, at the cost of another pass over the file.
        match cedar_policy_core::parser::parse_policyset(&source.text) {
            Err(errors) => {
                for error in errors.iter() {
                    problems.extend(source.describe(error, ""));
                }
            }
            Ok(parsed) => {
                if parsed.templates().next().is_some() {
                    problems.push(format!(
                        "{}: holds a template (a policy with `?principal` or `?resource`): nothing \
                         links templates here; write static policies",
                        source.shown
                    ));
                }
                let name = file
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                // `cedar-policy`'s own conversion of its parser's result (`#[doc(hidden)]`, and
                // only as stable as the exact `cedar-policy-core` version Cargo.toml pins).
                let parsed = PolicySet::from(parsed);
                for (n, policy) in parsed.policies().enumerate() {
                    // Not `annotation("id")`: it parses its key, with a new lexer each time.
                    let id = policy
                        .annotations()
                        .find_map(|(key, value)| (key == "id").then_some(value))
                        .filter(|id| !id.is_empty())
                        .map_or_else(|| format!("{name}#{n}"), str::to_owned);
                    let renamed: Policy = policy.new_id(PolicyId::new(&id));
                    if let Some((_, other)) = origin.iter().find(|(known, _)| known.as_ref() == id)
                    {
                        problems.push(format!(
                            "{}: policy id {id:?} is also a policy's of {}; give each `@id` once",
                            source.shown,
                            sources_shown(&sources, *other, &source)
                        ));
                        continue;
                    }
                    origin.push((renamed.id().clone(), sources.len()));
                    set.add(renamed)
                        .expect("ids are distinct and the policy is static");
                }
            }
        }
        sources.push(source);
    }
    if files.is_empty() {
        problems.push(format!("{}: holds no `.cedar` file", policies.display()));
    }

    let schema = schema.and_then(|path| match read_schema(path) {
        Ok(schema) => Some(schema),
        Err(mut found) => {
            problems.append(&mut found);
            None
        }
    });
    let mut warnings = Vec::new();
    if let Some(schema) = &schema
        && problems.is_empty()
    {
        let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
        let source_of = |id: &PolicyId| {
            origin
                .iter()
                .find(|(known, _)| known == id)
                .map(|(_, i)| &sources[*i])
        };
        for error in result.validation_errors() {
            let id = error.policy_id();
            if let Some(source) = source_of(id) {
                problems.extend(
                    source.describe(error, &format!("policy {:?}: ", AsRef::<str>::as_ref(id))),
                );
            }
        }
        for warning in result.validation_warnings() {
            if let Some(source) = source_of(warning.policy_id()) {
                warnings.extend(source.describe(warning, "warning: "));
            }
        }
    }
    if problems.is_empty() {
        Ok(Loaded {
            policies: set,
            schema,
            warnings,
        })
    } else {
        Err(problems)
    }
}

fn sources_shown(sources: &[Source], index: usize, current: &Source) -> String {
    sources.get(index).unwrap_or(current).shown.clone()
}

/// The `.cedar` files: the path itself, or those in the folder and its subfolders, in name order.
fn policy_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("{}: cannot be read: {e}", path.display()))?;
    if meta.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    let mut folders = vec![path.to_owned()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder)
            .map_err(|e| format!("{}: cannot be read: {e}", folder.display()))?;
        for entry in entries.flatten() {
            let entry = entry.path();
            if entry.is_dir() {
                folders.push(entry);
            } else if entry.extension().is_some_and(|e| e == "cedar") {
                files.push(entry);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a schema: JSON by the `.json` extension, else Cedar's human format.
fn read_schema(path: &Path) -> Result<Schema, Vec<String>> {
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("{shown}: cannot be read: {e}")])?;
    let source = Source { shown, text };
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        Schema::from_json_str(&source.text).map_err(|e| source.describe(&e, ""))
    } else {
        Schema::from_cedarschema_str(&source.text)
            .map(|(schema, _warnings)| schema)
            .map_err(|e| source.describe(&e, ""))
    }
}
