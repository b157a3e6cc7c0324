//! The shape of `src/` (issue 26, acceptance 2), read from the source text:
//!
//! - the top-level modules sit in the layers below, and no module imports
//!   from a layer above its own (an upward import);
//! - no cycle among the files: file A depends on file B when A's code
//!   (comments and `#[cfg(test)]` modules left out) names a path in B,
//!   through `crate::`, `super::` or `self::`. A module's own `mod.rs`
//!   naming its children is the module's structure, not a dependency, so
//!   edges from a `mod.rs` down into its own subtree are left out;
//! - no file over 500 lines and no function over 80.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first: a module may import from its own layer's
/// peers only where no cycle forms, and from any layer below.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["memory", "panics", "rng", "scaling", "vocabulary"],
    &["kernels", "products", "thread_pool"],
    &["problem"],
    &["init", "held_out", "canonical"],
    &["offsets"],
    &["options"],
    &["solver"],
    &["fold_in", "outer", "warm"],
    &["driver", "distributed"],
    &["model"],
    &["ffi"],
];

const MAX_FILE_LINES: usize = 500;
const MAX_FUNCTION_LINES: usize = 80;

struct Source {
    /// The module path, e.g. ["outer", "alternating"]; [] for lib.rs.
    module: Vec<String>,
    is_mod_rs: bool,
    lines: Vec<String>,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let rel: PathBuf = path.strip_prefix(&root).unwrap().to_path_buf();
            let mut module: Vec<String> = rel
                .iter()
                .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            let last = module.last().cloned().unwrap();
            let is_mod_rs = last == "mod" || last == "lib";
            if is_mod_rs {
                module.pop();
            }
            let text = fs::read_to_string(&path).unwrap();
            Source {
                module,
                is_mod_rs,
                lines: text.lines().map(str::to_string).collect(),
            }
        })
        .collect()
}

/// The code of a file: comments stripped, `#[cfg(test)]` modules dropped.
fn code_lines(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_depth: Option<i64> = None;
    let mut depth = 0i64;
    let mut pending_test = false;
    for line in lines {
        let code = line.split("//").next().unwrap_or("").to_string();
        let trimmed = code.trim();
        let opens = code.matches('{').count() as i64;
        let closes = code.matches('}').count() as i64;
        if skip_depth.is_none() && pending_test && trimmed.starts_with("mod ") {
            skip_depth = Some(depth);
        }
        pending_test = trimmed == "#[cfg(test)]" || (pending_test && trimmed.is_empty());
        depth += opens - closes;
        match skip_depth {
            Some(d) if depth <= d && (opens > 0 || closes > 0) => skip_depth = None,
            Some(_) => {}
            None => out.push(code),
        }
    }
    out
}

/// Every path the code names from `crate::`, `super::` or `self::`, with
/// `use` groups expanded, as absolute module-path segments.
fn named_paths(source: &Source) -> Vec<Vec<String>> {
    let code = code_lines(&source.lines).join("\n");
    let mut paths = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let boundary = i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_');
        let start = ["crate::", "super::", "self::"]
            .iter()
            .find(|p| boundary && rest.starts_with(**p));
        let Some(prefix) = start else {
            i += 1;
            continue;
        };
        // Read a path with its brace groups.
        let mut j = i;
        let mut depth = 0;
        while j < bytes.len() {
            let c = bytes[j];
            if c == '{' {
                depth += 1;
            } else if c == '}' {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            } else if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') {
                break;
            }
            j += 1;
        }
        let text: String = bytes[i..j].iter().collect();
        // A file's module is itself (`self`); `super` is its parent,
        // whether the file is a mod.rs or not.
        let mut base = match *prefix {
            "crate::" => Vec::new(),
            _ => source.module.clone(),
        };
        if *prefix == "super::" {
            base.pop();
        }
        for expanded in expand(&text[prefix.len()..]) {
            let mut full = base.clone();
            full.extend(
                expanded
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
            paths.push(full);
        }
        i = j.max(i + 1);
    }
    paths
}

/// "a::{b, c::{d, e}}" -> ["a::b", "a::c::d", "a::c::e"].
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else {
        return vec![path.to_string()];
    };
    let head = &path[..open];
    let inner = &path[open + 1..path.rfind('}').unwrap_or(path.len())];
    let mut parts = Vec::new();
    let (mut depth, mut last) = (0, 0);
    for (k, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[last..k]);
                last = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[last..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "self")
        .flat_map(|p| expand(p).into_iter().map(move |e| format!("{head}{e}")))
        .chain(std::iter::once(head.trim_end_matches("::").to_string()))
        .collect()
}

/// The file (module path) a named path lands in: its longest prefix that
/// is a module of the crate.
fn resolve(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

fn dependencies(sources: &[Source]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    let mut graph = BTreeMap::new();
    for s in sources {
        let mut deps = BTreeSet::new();
        for path in named_paths(s) {
            let Some(target) = resolve(&path, &modules) else {
                continue;
            };
            let own_subtree = s.is_mod_rs && target.starts_with(&s.module);
            if target != s.module && !own_subtree {
                deps.insert(target);
            }
        }
        graph.insert(s.module.clone(), deps);
    }
    graph
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "lib".into()
    } else {
        module.join("::")
    }
}

#[test]
fn top_level_modules_import_only_from_their_layer_or_below() {
    let sources = sources();
    let layer_of = |m: &str| LAYERS.iter().position(|l| l.contains(&m));
    let mut upward = Vec::new();
    for (from, deps) in dependencies(&sources) {
        let Some(top) = from.first() else {
            continue; // lib.rs declares and re-exports everything
        };
        let own = layer_of(top).unwrap_or_else(|| panic!("{top} is in no layer: add it"));
        for to in deps {
            let other = &to[0];
            let theirs = layer_of(other).unwrap_or_else(|| panic!("{other} is in no layer"));
            if theirs > own {
                upward.push(format!("{} -> {}", name(&from), name(&to)));
            }
        }
    }
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

#[test]
fn no_cycle_among_the_files() {
    let graph = dependencies(&sources());
    // Depth-first search with colours; a grey target closes a cycle.
    let mut colour: BTreeMap<&Vec<String>, u8> = BTreeMap::new();
    let mut cycles = Vec::new();
    fn visit<'g>(
        node: &'g Vec<String>,
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        colour: &mut BTreeMap<&'g Vec<String>, u8>,
        stack: &mut Vec<&'g Vec<String>>,
        cycles: &mut Vec<String>,
    ) {
        colour.insert(node, 1);
        stack.push(node);
        for next in graph.get(node).into_iter().flatten() {
            match colour.get(next).copied().unwrap_or(0) {
                0 => visit(next, graph, colour, stack, cycles),
                1 => {
                    let at = stack.iter().position(|n| *n == next).unwrap();
                    let names: Vec<String> = stack[at..].iter().map(|n| name(n)).collect();
                    cycles.push(format!("{} -> {}", names.join(" -> "), name(next)));
                }
                _ => {}
            }
        }
        stack.pop();
        colour.insert(node, 2);
    }
    for node in graph.keys() {
        if colour.get(node).copied().unwrap_or(0) == 0 {
            visit(node, &graph, &mut colour, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(
        cycles.is_empty(),
        "file-level cycles:\n{}",
        cycles.join("\n")
    );
}

/// The line count of each `fn` with a body: from its signature to the
/// closing brace at the signature's indentation.
fn function_lengths(lines: &[String]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "fn") else {
            continue;
        };
        let qualifiers = [
            "pub",
            "pub(crate)",
            "pub(super)",
            "unsafe",
            "const",
            "extern",
            "\"C\"",
        ];
        if !words[..at].iter().all(|w| qualifiers.contains(w)) || trimmed.starts_with("//") {
            continue;
        }
        let name = words
            .get(at + 1)
            .map_or("?", |w| w.split(['(', '<']).next().unwrap());
        // A signature that ends with ';' before any '{' has no body.
        let mut end_of_signature = start;
        while end_of_signature < lines.len() {
            let l = lines[end_of_signature].split("//").next().unwrap();
            if l.contains('{') || l.trim_end().ends_with(';') {
                break;
            }
            end_of_signature += 1;
        }
        let signature_end = lines.get(end_of_signature).map_or("", |l| l.as_str());
        if !signature_end.contains('{') {
            continue;
        }
        let close = " ".repeat(indent) + "}";
        let end = (end_of_signature..lines.len())
            .find(|&k| {
                lines[k].starts_with(&close)
                    && lines[k].len() - lines[k].trim_start().len() == indent
            })
            .unwrap_or(end_of_signature);
        out.push((name.to_string(), end - start + 1));
    }
    out
}

#[test]
fn files_and_functions_stay_small() {
    let mut long = Vec::new();
    for s in sources() {
        let file = format!("src/{}", name(&s.module));
        if s.lines.len() > MAX_FILE_LINES {
            long.push(format!("{file}: {} lines", s.lines.len()));
        }
        for (function, n) in function_lengths(&s.lines) {
            if n > MAX_FUNCTION_LINES {
                long.push(format!("{file}: fn {function}: {n} lines"));
            }
        }
    }
    assert!(long.is_empty(), "over the limits:\n{}", long.join("\n"));
}

/// The checks above see what they claim to: a planted cycle, an upward
/// import and a long function are found.
#[test]
fn the_checks_find_what_they_look_for() {
    let file = |module: &[&str], text: &str| Source {
        module: module.iter().map(|s| s.to_string()).collect(),
        is_mod_rs: false,
        lines: text.lines().map(str::to_string).collect(),
    };
    let planted = [
        file(&["a"], "use crate::b::{x, y::z};\nfn f() {}"),
        file(&["b"], "fn g() { crate::a::f() }"),
        file(&["b", "y"], "// crate::a in a comment\n"),
    ];
    let graph = dependencies(&planted);
    assert!(graph[&vec!["a".to_string()]].contains(&vec!["b".to_string(), "y".to_string()]));
    assert!(graph[&vec!["b".to_string()]].contains(&vec!["a".to_string()]));
    assert!(graph[&vec!["b".to_string(), "y".to_string()]].is_empty());
    let body: Vec<String> = std::iter::once("pub fn long() {".to_string())
        .chain((0..MAX_FUNCTION_LINES).map(|k| format!("    let x{k} = {k};")))
        .chain(std::iter::once("}".to_string()))
        .collect();
    assert_eq!(
        function_lengths(&body),
        vec![("long".to_string(), MAX_FUNCTION_LINES + 2)]
    );
}
