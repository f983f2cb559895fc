//! The README cannot drift from the program: every `acronis-cred` command
//! line shown in a code block must parse against the real command-line
//! definitions. (What those commands do is covered by the end-to-end tests.)

use acronis_cred::cli::Cli;
use clap::Parser;

/// Splits a shell line into words, honouring single and double quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The `acronis-cred ...` invocations in one line of shell, each cut at the
/// first shell operator.
fn invocations(line: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("acronis-cred ") {
        let before = &rest[..i];
        let tail = &rest[i..];
        // Part of a path or a longer name (git-credential-acronis...): skip.
        if before.ends_with(|c: char| c.is_alphanumeric() || c == '-' || c == '/' || c == '_') {
            rest = &tail["acronis-cred ".len()..];
            continue;
        }
        let end = tail.find(['|', '>', ')', ';', '&', '#', '`']).unwrap_or(tail.len());
        found.push(words(&tail[..end]));
        rest = &tail[end..];
    }
    found
}

#[test]
fn every_readme_command_parses() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut in_code = false;
    let mut checked = 0;
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code || line.trim_start().starts_with("acronis-cred [") || line.contains("<command>") {
            continue;
        }
        for args in invocations(line) {
            // Placeholders for values are fine; the words must exist.
            let args: Vec<String> = args.into_iter().filter(|w| w != "..." && w != "\\").collect();
            if args.iter().any(|w| w.starts_with("[--") || w.contains('|') && !w.contains("://")) {
                continue;
            }
            match Cli::try_parse_from(&args) {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                    ) => {}
                Err(e) => panic!("README command does not parse: {}\n{e}", args.join(" ")),
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} README commands found; is the extraction broken?");
}

#[test]
fn splitting_and_cutting() {
    assert_eq!(words("a 'b c' \"d\" ''"), vec!["a", "b c", "d", ""]);
    let found = invocations("curl -H @<(acronis-cred token --format header) \"$(acronis-cred url)/clients\"");
    assert_eq!(found, vec![vec!["acronis-cred", "token", "--format", "header"], vec!["acronis-cred", "url"]]);
    assert!(invocations("ln -s /usr/bin/acronis-cred x").is_empty());
}
