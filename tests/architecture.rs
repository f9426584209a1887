//! The crate's layers, as ARCHITECTURE.md draws them: every `crate::` (and `super::`) path in
//! `src/` points down the layers, and no module imports, through any chain, one that imports it.
//!
//! Read from the source text, as a reviewer would: `use crate::x`, `crate::x::y` in code, and
//! grouped imports. Test modules are left out (tests may reach anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, bottom first: each may import only modules before it.
const LAYERS: &[&[&str]] = &[
    // The vocabulary every layer shares; imports nothing of the crate.
    &["report", "clock", "json", "algorithm", "identity"],
    // What is written to logs (a line per refusal).
    &["logging"],
    // The hot path's parsers of attacker-controlled bytes.
    &["token", "events", "claims", "keyset", "dpop", "mtls"],
    // Decisions: the answer, sender constraints, Cedar policies, the verified-token cache.
    &["policy", "binding", "cedar", "verified"],
    // Configuration: reads the environment and files into the values above.
    &["config"],
    // The network: key fetches and refreshes, introspection.
    &["fetcher", "refresher", "introspection"],
    // One authorization, from event bytes to the answer.
    &["handler"],
    // Sinks and the Lambda lifecycle, wired by the binary.
    &["shutdown", "metrics"],
    // Development only (features `mint` and `local`).
    &["issuer", "local"],
];

/// The layer of a top-level module, and its position among all modules (bottom first).
fn rank(module: &str) -> Option<(usize, usize)> {
    LAYERS
        .iter()
        .flat_map(|layer| layer.iter())
        .position(|m| *m == module)
        .map(|position| {
            let layer = LAYERS.iter().position(|l| l.contains(&module)).unwrap();
            (layer, position)
        })
}

/// A module path as `a/b`, from a file under `src/`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("/")
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The source without comments and without its `#[cfg(test)] mod tests { .. }` block.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| match line.find(" // ") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first path segments after `prefix::`, including each member of a `prefix::{..}` group.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let needle = format!("{prefix}::");
    let mut rest = code;
    while let Some(at) = rest.find(&needle) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + needle.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut level = 0;
            let mut start = 0;
            for (i, c) in group[..end].char_indices().chain([(end, ',')]) {
                match c {
                    '{' => level += 1,
                    '}' => level -= 1,
                    ',' if level == 0 => {
                        found.push(group[start..i].trim());
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(rest);
        }
    }
    found
}

/// The modules (as `a` or `a/b`) that `module`'s code names.
fn imports(src: &Path, module: &str, code: &str) -> BTreeSet<String> {
    let exists = |path: &str| {
        src.join(format!("{path}.rs")).is_file() || src.join(path).join("mod.rs").is_file()
    };
    // `a::b` names the submodule `a/b` when there is one, else the module `a`.
    let resolve = |base: &str, path: &str| -> Option<String> {
        let first = ident(path);
        if first.is_empty() || first == "self" {
            return None;
        }
        let top = if base.is_empty() {
            first.to_owned()
        } else {
            format!("{base}/{first}")
        };
        if !exists(&top) {
            return None;
        }
        let second = path[first.len()..].strip_prefix("::").map(ident);
        match second {
            Some(second) if !second.is_empty() && exists(&format!("{top}/{second}")) => {
                Some(format!("{top}/{second}"))
            }
            _ => Some(top),
        }
    };
    let mut found: BTreeSet<String> = paths_after(code, "crate")
        .into_iter()
        .filter_map(|path| resolve("", path))
        .collect();
    // `super::x` from `a/b` is `a/x`; from `a` (a file's own submodule) it is the crate root.
    if let Some((parent, _)) = module.rsplit_once('/') {
        found.extend(
            paths_after(code, "super")
                .into_iter()
                .filter_map(|path| resolve(parent, path)),
        );
    }
    found.remove(module);
    // A module's own submodules and its parent are one concept; `mod` lines are not imports.
    found.retain(|m| !m.starts_with(&format!("{module}/")));
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph = BTreeMap::new();
    for file in files {
        let module = module_of(&src, &file);
        let is_test = module.ends_with("/tests") || module == "main" || module == "lib";
        if is_test {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        graph.insert(module.clone(), imports(&src, &module, &code(&text)));
    }
    graph
}

fn top(module: &str) -> &str {
    module.split('/').next().unwrap()
}

#[test]
fn every_import_points_down_the_layers() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (module, imports) in &graph {
        let Some((_, from)) = rank(top(module)) else {
            wrong.push(format!("{module}: not in a layer of tests/architecture.rs"));
            continue;
        };
        for import in imports.iter().filter(|i| top(i) != top(module)) {
            match rank(top(import)) {
                Some((_, to)) if to < from => {}
                _ => wrong.push(format!("{module} -> {import}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_module_imports_itself_through_a_chain() {
    let graph = graph();
    // Depth-first, from every module: a path back to where it started is a cycle.
    fn visit<'a>(
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        node: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            return Some(path[at..].iter().map(|n| n.to_string()).collect());
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        let cycle = visit(&graph, module, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "an import cycle: {cycle:?}");
    }
}

#[test]
fn the_reader_sees_imports_in_every_form() {
    let code = "use crate::{report::Reject, json::{Scanner, cow}};\nlet x = crate::claims::parse();\nuse super::field::Field;";
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = imports(&src, "config/spec", code);
    let expected = ["claims", "config/field", "json", "report"];
    assert_eq!(found.into_iter().collect::<Vec<_>>(), expected);
}
