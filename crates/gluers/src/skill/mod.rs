//! Agent instructions: `cargo manage skill {claude,cursor,github,codex}`.
//!
//! Writes the files that teach a coding agent how this project's pipelines
//! work and how to run the experiment loop:
//!
//! | target   | files                                                                  |
//! |----------|------------------------------------------------------------------------|
//! | `claude` | `.claude/skills/gluers/{SKILL.md, references/*.md}`, `.claude/commands/experiment.md` |
//! | `cursor` | `.cursor/skills/gluers/{SKILL.md, references/*.md}`, `.cursor/commands/experiment.md` |
//! | `github` | `.github/skills/gluers/{SKILL.md, references/*.md}`                    |
//! | `codex`  | a marked section of `AGENTS.md`, `.agents/skills/gluers/{SKILL.md, references/*.md}` |
//!
//! Codex reads `AGENTS.md` at the start of every session and discovers
//! repository skills in `.agents/skills/` (the Agent Skills standard's
//! location), so its short always-on rules go into `AGENTS.md` and the full
//! skill next to other agents' skills.
//!
//! Every generated file says that gluers generated it and how to regenerate
//! it. Running the command again rewrites only gluers' own files (reporting
//! those whose content did not change), never any other file in those
//! folders, and in `AGENTS.md` only the text between the
//! `<!-- gluers:begin -->` and `<!-- gluers:end -->` lines. Writes are atomic.

use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::{context, Environment, UndefinedBehavior};

/// The agent to write instructions for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SkillTarget {
    /// Claude Code: a skill in `.claude/skills/` and the `/experiment` command.
    Claude,
    /// Cursor: a skill in `.cursor/skills/` and the `/experiment` command.
    Cursor,
    /// GitHub Copilot: a skill in `.github/skills/`.
    Github,
    /// OpenAI Codex: a section of `AGENTS.md` and a skill in `.agents/skills/`.
    Codex,
}

impl SkillTarget {
    /// The target's name on the command line (`claude`, `cursor`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SkillTarget::Claude => "claude",
            SkillTarget::Cursor => "cursor",
            SkillTarget::Github => "github",
            SkillTarget::Codex => "codex",
        }
    }

    /// The folder of the skill, relative to the project folder.
    fn skill_dir(self) -> &'static str {
        match self {
            SkillTarget::Claude => ".claude/skills/gluers",
            SkillTarget::Cursor => ".cursor/skills/gluers",
            SkillTarget::Github => ".github/skills/gluers",
            SkillTarget::Codex => ".agents/skills/gluers",
        }
    }

    /// The `/experiment` command file and its template, if the agent has commands.
    fn command(self) -> Option<(&'static str, &'static str)> {
        match self {
            SkillTarget::Claude => Some((".claude/commands/experiment.md", "command_claude.md")),
            SkillTarget::Cursor => Some((".cursor/commands/experiment.md", "command_cursor.md")),
            SkillTarget::Github | SkillTarget::Codex => None,
        }
    }
}

impl std::fmt::Display for SkillTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`install_skill`] did, file by file.
///
/// Paths are relative to the project folder, in the order the files were
/// handled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkillReport {
    /// Files created or rewritten with new content.
    pub written: Vec<PathBuf>,
    /// Files that already had exactly the content gluers would write.
    pub unchanged: Vec<PathBuf>,
}

/// Why the agent instructions could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SkillError {
    /// The project folder does not exist.
    #[error("project folder {} does not exist; run the command from the project folder", path.display())]
    ProjectDir {
        /// The folder given.
        path: PathBuf,
    },
    /// The project name cannot go into the instructions.
    #[error(
        "project name {name:?} is not a Cargo package name; use letters, digits, '-' and '_' only"
    )]
    ProjectName {
        /// The name given.
        name: String,
    },
    /// A template failed to render (a bug in gluers).
    #[error(
        "cannot render skill template {template}: {source}; please report this as a gluers bug"
    )]
    Render {
        /// The template's name.
        template: &'static str,
        /// The template engine's error.
        #[source]
        source: minijinja::Error,
    },
    /// An existing file could not be read.
    #[error("cannot read {}: {source}; check its permissions", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}; check that the folder is writable", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `AGENTS.md` has gluers markers that do not pair up.
    #[error(
        "{}: {problem}; fix the gluers marker lines by hand (or delete them to append a new section), then run `cargo manage skill codex` again",
        path.display()
    )]
    Markers {
        /// The file.
        path: PathBuf,
        /// What is wrong with the markers.
        problem: String,
    },
}

/// The line that opens gluers' section of `AGENTS.md`.
pub const AGENTS_BEGIN: &str = "<!-- gluers:begin -->";
/// The line that closes gluers' section of `AGENTS.md`.
pub const AGENTS_END: &str = "<!-- gluers:end -->";

/// The reference pages, written under `<skill dir>/references/`.
const REFERENCES: [(&str, &str); 6] = [
    ("dags.md", include_str!("templates/references/dags.md")),
    (
        "context.md",
        include_str!("templates/references/context.md"),
    ),
    (
        "storage.md",
        include_str!("templates/references/storage.md"),
    ),
    ("data.md", include_str!("templates/references/data.md")),
    (
        "settings.md",
        include_str!("templates/references/settings.md"),
    ),
    (
        "experiments.md",
        include_str!("templates/references/experiments.md"),
    ),
];

/// The other templates, by name.
const TEMPLATES: [(&str, &str); 4] = [
    ("SKILL.md", include_str!("templates/SKILL.md")),
    (
        "command_claude.md",
        include_str!("templates/command_claude.md"),
    ),
    (
        "command_cursor.md",
        include_str!("templates/command_cursor.md"),
    ),
    (
        "agents_section.md",
        include_str!("templates/agents_section.md"),
    ),
];

/// Writes the agent instructions for `target` into `project_dir`.
///
/// `project_name` (the Cargo package name) appears in the instructions.
/// Returns which files were written and which were already up to date.
///
/// ```no_run
/// use gluers::skill::{install_skill, SkillTarget};
///
/// let report = install_skill(SkillTarget::Claude, std::path::Path::new("."), "forecast")?;
/// for path in &report.written {
///     println!("wrote {}", path.display());
/// }
/// # Ok::<(), gluers::skill::SkillError>(())
/// ```
pub fn install_skill(
    target: SkillTarget,
    project_dir: &Path,
    project_name: &str,
) -> Result<SkillReport, SkillError> {
    if !project_dir.is_dir() {
        return Err(SkillError::ProjectDir {
            path: project_dir.to_path_buf(),
        });
    }
    let valid_name = !project_name.is_empty()
        && project_name.len() <= 64
        && project_name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if !valid_name {
        return Err(SkillError::ProjectName {
            name: project_name.to_owned(),
        });
    }

    let files = render(target, project_name)?;
    let mut report = SkillReport::default();
    for file in files {
        let path = project_dir.join(&file.path);
        let content = match file.kind {
            Kind::Whole => file.content,
            Kind::AgentsSection => {
                let existing = read_if_exists(&path)?;
                splice_section(existing.as_deref(), &file.content).map_err(|problem| {
                    SkillError::Markers {
                        path: file.path.clone(),
                        problem,
                    }
                })?
            }
        };
        if read_if_exists(&path)?.as_deref() == Some(content.as_str()) {
            report.unchanged.push(file.path);
        } else {
            write_atomic(&path, content.as_bytes()).map_err(|source| SkillError::Write {
                path: file.path.clone(),
                source,
            })?;
            report.written.push(file.path);
        }
    }
    Ok(report)
}

/// How a rendered file goes to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// gluers owns the whole file.
    Whole,
    /// gluers owns only its marked section of the file.
    AgentsSection,
}

/// A rendered file, before it is written.
#[derive(Debug)]
struct Rendered {
    path: PathBuf,
    content: String,
    kind: Kind,
}

/// Renders every file of `target`.
fn render(target: SkillTarget, project_name: &str) -> Result<Vec<Rendered>, SkillError> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|source| SkillError::Render {
            template: "(syntax)",
            source,
        })?;
    env.set_syntax(syntax);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for (name, source) in TEMPLATES.iter().chain(REFERENCES.iter()) {
        env.add_template(name, source)
            .map_err(|source| SkillError::Render {
                template: name,
                source,
            })?;
    }

    let skill_dir = target.skill_dir();
    let regen = format!("cargo manage skill {}", target.name());
    let yaml_header = format!(
        "# Generated by gluers for {project_name}. Do not edit: `{regen}` rewrites this file."
    );
    let md_header = format!(
        "<!-- Generated by gluers for {project_name}. Do not edit: `{regen}` rewrites this file. -->"
    );
    let ctx = context! {
        project_name,
        target => target.name(),
        regen,
        skill_dir,
        has_command => target.command().is_some(),
        yaml_header,
        md_header,
    };
    let render = |template: &'static str| {
        env.get_template(template)
            .and_then(|t| t.render(&ctx))
            .map_err(|source| SkillError::Render { template, source })
    };

    let mut files = Vec::new();
    if target == SkillTarget::Codex {
        files.push(Rendered {
            path: PathBuf::from("AGENTS.md"),
            content: render("agents_section.md")?,
            kind: Kind::AgentsSection,
        });
    }
    files.push(Rendered {
        path: Path::new(skill_dir).join("SKILL.md"),
        content: render("SKILL.md")?,
        kind: Kind::Whole,
    });
    for (name, _) in REFERENCES {
        files.push(Rendered {
            path: Path::new(skill_dir).join("references").join(name),
            content: render(name)?,
            kind: Kind::Whole,
        });
    }
    if let Some((path, template)) = target.command() {
        files.push(Rendered {
            path: PathBuf::from(path),
            content: render(template)?,
            kind: Kind::Whole,
        });
    }
    Ok(files)
}

/// Puts `section` (which starts with [`AGENTS_BEGIN`] and ends with
/// [`AGENTS_END`]) into `existing`: in place of the current section, or
/// appended after a blank line. Keeps the file's line endings.
fn splice_section(existing: Option<&str>, section: &str) -> Result<String, String> {
    let Some(existing) = existing.filter(|text| !text.trim().is_empty()) else {
        return Ok(section.to_owned());
    };
    let crlf = existing.contains("\r\n");
    let section = if crlf {
        section.replace('\n', "\r\n")
    } else {
        section.to_owned()
    };

    // Byte ranges of the marker lines (the line with its line ending).
    let mut begins = Vec::new();
    let mut ends = Vec::new();
    let mut offset = 0;
    for line in existing.split_inclusive('\n') {
        match line.trim() {
            AGENTS_BEGIN => begins.push(offset..offset + line.len()),
            AGENTS_END => ends.push(offset..offset + line.len()),
            _ => {}
        }
        offset += line.len();
    }

    match (begins.as_slice(), ends.as_slice()) {
        ([], []) => {
            let mut text = existing.to_owned();
            let newline = if crlf { "\r\n" } else { "\n" };
            if !text.ends_with('\n') {
                text.push_str(newline);
            }
            if !text.ends_with(&format!("{newline}{newline}")) {
                text.push_str(newline);
            }
            text.push_str(&section);
            Ok(text)
        }
        ([begin], [end]) if begin.start < end.start => {
            let mut text = String::with_capacity(existing.len() + section.len());
            text.push_str(&existing[..begin.start]);
            text.push_str(&section);
            if !existing[end.clone()].ends_with('\n') {
                // The end marker was the last line, without a line ending:
                // keep it that way.
                while text.ends_with('\n') || text.ends_with('\r') {
                    text.pop();
                }
            }
            text.push_str(&existing[end.end..]);
            Ok(text)
        }
        ([_], [_]) => Err(format!("{AGENTS_END} comes before {AGENTS_BEGIN}")),
        (b, e) if b.len() > 1 || e.len() > 1 => Err(format!(
            "{} {AGENTS_BEGIN} and {} {AGENTS_END} lines, expected one of each",
            b.len(),
            e.len()
        )),
        ([], _) => Err(format!("{AGENTS_END} without {AGENTS_BEGIN}")),
        (_, _) => Err(format!("{AGENTS_BEGIN} without {AGENTS_END}")),
    }
}

/// The file's text, or `None` if there is no file.
fn read_if_exists(path: &Path) -> Result<Option<String>, SkillError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SkillError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `data` to `path` through a temporary file in the same folder,
/// then renames it over `path`; creates the parent folders. The file keeps
/// the permissions of the file it replaces (new files: 0644 less the umask),
/// since these are documents the whole team reads.
fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;

    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".gluers-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [SkillTarget; 4] = [
        SkillTarget::Claude,
        SkillTarget::Cursor,
        SkillTarget::Github,
        SkillTarget::Codex,
    ];

    const REFERENCE_NAMES: [&str; 6] = [
        "dags.md",
        "context.md",
        "storage.md",
        "data.md",
        "settings.md",
        "experiments.md",
    ];

    fn expected_files(target: SkillTarget) -> Vec<PathBuf> {
        let dir = target.skill_dir();
        let mut files = Vec::new();
        if target == SkillTarget::Codex {
            files.push(PathBuf::from("AGENTS.md"));
        }
        files.push(Path::new(dir).join("SKILL.md"));
        for name in REFERENCE_NAMES {
            files.push(Path::new(dir).join("references").join(name));
        }
        match target {
            SkillTarget::Claude => files.push(".claude/commands/experiment.md".into()),
            SkillTarget::Cursor => files.push(".cursor/commands/experiment.md".into()),
            _ => {}
        }
        files
    }

    fn read(dir: &Path, path: impl AsRef<Path>) -> String {
        std::fs::read_to_string(dir.join(path)).unwrap()
    }

    /// Every file under `dir`, relative, sorted.
    fn tree(dir: &Path) -> Vec<PathBuf> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    out.push(path.strip_prefix(root).unwrap().to_path_buf());
                }
            }
        }
        let mut out = Vec::new();
        walk(dir, dir, &mut out);
        out.sort();
        out
    }

    #[test]
    fn every_target_writes_its_files_and_nothing_else() {
        for target in ALL {
            let dir = tempfile::tempdir().unwrap();
            let report = install_skill(target, dir.path(), "forecast").unwrap();
            assert_eq!(report.written, expected_files(target), "{target}");
            assert!(report.unchanged.is_empty());
            let mut expected = expected_files(target);
            expected.sort();
            assert_eq!(tree(dir.path()), expected, "{target}: no stray files");
        }
    }

    #[test]
    fn every_file_says_it_is_generated_and_how_to_regenerate() {
        for target in ALL {
            let dir = tempfile::tempdir().unwrap();
            install_skill(target, dir.path(), "forecast").unwrap();
            let regen = format!("`cargo manage skill {target}`");
            for path in expected_files(target) {
                let text = read(dir.path(), &path);
                let head: String = text.lines().take(2).collect::<Vec<_>>().join("\n");
                assert!(
                    head.contains("Generated by gluers") && head.contains(&regen),
                    "{}: {head}",
                    path.display()
                );
                assert!(text.ends_with('\n'), "{}", path.display());
                assert!(
                    !text.contains("{{") && !text.contains("{%"),
                    "{}",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn skill_files_have_the_front_matter_skills_need() {
        for target in ALL {
            let dir = tempfile::tempdir().unwrap();
            install_skill(target, dir.path(), "forecast").unwrap();
            let skill = read(dir.path(), Path::new(target.skill_dir()).join("SKILL.md"));
            let front = front_matter(&skill);
            let yaml: serde_norway::Mapping = serde_norway::from_str(front).unwrap();
            assert_eq!(yaml.get("name").and_then(|v| v.as_str()), Some("gluers"));
            let description = yaml.get("description").and_then(|v| v.as_str()).unwrap();
            assert!(description.len() > 100 && description.len() <= 1024);
            assert!(skill.contains("forecast"), "the project name is used");
            // Positional placeholders would be substituted by Claude Code.
            assert!(!has_positional_placeholder(&skill));
        }
    }

    #[test]
    fn claude_command_declares_its_arguments() {
        let dir = tempfile::tempdir().unwrap();
        install_skill(SkillTarget::Claude, dir.path(), "forecast").unwrap();
        let command = read(dir.path(), ".claude/commands/experiment.md");
        let yaml: serde_norway::Mapping = serde_norway::from_str(front_matter(&command)).unwrap();
        let arguments: Vec<&str> = yaml
            .get("arguments")
            .and_then(|v| v.as_sequence())
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(arguments, ["dag_label", "goal"]);
        let hint = yaml.get("argument-hint").and_then(|v| v.as_str()).unwrap();
        assert!(hint.contains("dag_label") && hint.contains("goal"));
        assert!(yaml.get("description").is_some());
        assert!(command.contains("$dag_label") && command.contains("$goal"));
        assert!(command.contains("$ARGUMENTS"));
        assert!(!has_positional_placeholder(&command));
        assert!(command.contains(".claude/skills/gluers/references/experiments.md"));
    }

    #[test]
    fn cursor_command_reads_its_arguments_from_the_message() {
        let dir = tempfile::tempdir().unwrap();
        install_skill(SkillTarget::Cursor, dir.path(), "forecast").unwrap();
        let command = read(dir.path(), ".cursor/commands/experiment.md");
        let yaml: serde_norway::Mapping = serde_norway::from_str(front_matter(&command)).unwrap();
        assert!(yaml.get("argument-hint").is_some());
        // Cursor substitutes nothing: no placeholders in the body.
        assert!(!command.contains("$dag_label") && !command.contains("$ARGUMENTS"));
        assert!(command.contains(".cursor/skills/gluers/references/experiments.md"));
    }

    #[test]
    fn second_run_changes_nothing() {
        for target in ALL {
            let dir = tempfile::tempdir().unwrap();
            install_skill(target, dir.path(), "forecast").unwrap();
            let before: Vec<(PathBuf, Vec<u8>)> = tree(dir.path())
                .into_iter()
                .map(|p| {
                    let bytes = std::fs::read(dir.path().join(&p)).unwrap();
                    (p, bytes)
                })
                .collect();
            let report = install_skill(target, dir.path(), "forecast").unwrap();
            assert!(report.written.is_empty(), "{target}: {:?}", report.written);
            assert_eq!(report.unchanged, expected_files(target));
            let after: Vec<(PathBuf, Vec<u8>)> = tree(dir.path())
                .into_iter()
                .map(|p| {
                    let bytes = std::fs::read(dir.path().join(&p)).unwrap();
                    (p, bytes)
                })
                .collect();
            assert_eq!(before, after, "{target}: byte-identical");
        }
    }

    #[test]
    fn an_edited_file_is_rewritten_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        install_skill(SkillTarget::Github, dir.path(), "forecast").unwrap();
        let skill = dir.path().join(".github/skills/gluers/SKILL.md");
        std::fs::write(&skill, "edited").unwrap();
        let report = install_skill(SkillTarget::Github, dir.path(), "forecast").unwrap();
        assert_eq!(
            report.written,
            [PathBuf::from(".github/skills/gluers/SKILL.md")]
        );
        assert!(std::fs::read_to_string(&skill)
            .unwrap()
            .starts_with("---\n"));
    }

    #[test]
    fn foreign_files_are_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let other_skill = dir.path().join(".claude/skills/other/SKILL.md");
        let other_command = dir.path().join(".claude/commands/review.md");
        let other_reference = dir.path().join(".claude/skills/gluers/references/notes.md");
        for path in [&other_skill, &other_command, &other_reference] {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "mine\n").unwrap();
        }
        for _ in 0..2 {
            install_skill(SkillTarget::Claude, dir.path(), "forecast").unwrap();
            for path in [&other_skill, &other_command, &other_reference] {
                assert_eq!(std::fs::read_to_string(path).unwrap(), "mine\n");
            }
        }
    }

    #[test]
    fn agents_md_keeps_the_text_around_the_section() {
        let dir = tempfile::tempdir().unwrap();
        let agents = dir.path().join("AGENTS.md");
        std::fs::write(
            &agents,
            "# Team rules\n\nRun `cargo test` before pushing.\n",
        )
        .unwrap();

        install_skill(SkillTarget::Codex, dir.path(), "forecast").unwrap();
        let first = std::fs::read_to_string(&agents).unwrap();
        assert!(first.starts_with("# Team rules\n\nRun `cargo test` before pushing.\n\n"));
        assert_eq!(first.matches(AGENTS_BEGIN).count(), 1);
        assert!(first.ends_with(&format!("{AGENTS_END}\n")));

        // Text added after the section, and a stale section, by hand.
        let edited = first.replace("## gluers", "## gluers (old)") + "\n## After\n\nkeep me\n";
        std::fs::write(&agents, &edited).unwrap();
        let report = install_skill(SkillTarget::Codex, dir.path(), "forecast").unwrap();
        assert_eq!(report.written, [PathBuf::from("AGENTS.md")]);
        let second = std::fs::read_to_string(&agents).unwrap();
        assert_eq!(second, first.clone() + "\n## After\n\nkeep me\n");
        assert_eq!(
            second.matches(AGENTS_BEGIN).count(),
            1,
            "replaced, not duplicated"
        );

        let report = install_skill(SkillTarget::Codex, dir.path(), "forecast").unwrap();
        assert!(report.written.is_empty());
    }

    #[test]
    fn agents_md_is_created_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        install_skill(SkillTarget::Codex, dir.path(), "forecast").unwrap();
        let text = read(dir.path(), "AGENTS.md");
        assert!(text.starts_with(&format!("{AGENTS_BEGIN}\n")));
        assert!(text.contains("`cargo manage skill codex`"));
        assert!(text.contains(".agents/skills/gluers/SKILL.md"));
    }

    #[test]
    fn splice_handles_line_endings_and_a_last_line_marker() {
        let section = format!("{AGENTS_BEGIN}\nnew\n{AGENTS_END}\n");
        let crlf = format!("top\r\n{AGENTS_BEGIN}\r\nold\r\n{AGENTS_END}\r\nbottom\r\n");
        assert_eq!(
            splice_section(Some(&crlf), &section).unwrap(),
            format!("top\r\n{AGENTS_BEGIN}\r\nnew\r\n{AGENTS_END}\r\nbottom\r\n")
        );
        let last = format!("top\n{AGENTS_BEGIN}\nold\n{AGENTS_END}");
        assert_eq!(
            splice_section(Some(&last), &section).unwrap(),
            format!("top\n{AGENTS_BEGIN}\nnew\n{AGENTS_END}")
        );
        assert_eq!(
            splice_section(Some("no newline"), &section).unwrap(),
            format!("no newline\n\n{section}")
        );
        assert_eq!(splice_section(Some("  \n"), &section).unwrap(), section);
        // A marker quoted inside a line is not a marker.
        let quoted = format!("Markers look like `{AGENTS_BEGIN}`.\n");
        assert_eq!(
            splice_section(Some(&quoted), &section).unwrap(),
            format!("{quoted}\n{section}")
        );
    }

    #[test]
    fn broken_markers_are_refused_and_the_file_kept() {
        let cases = [
            format!("{AGENTS_BEGIN}\nno end\n"),
            format!("no begin\n{AGENTS_END}\n"),
            format!("{AGENTS_END}\n{AGENTS_BEGIN}\n"),
            format!("{AGENTS_BEGIN}\n{AGENTS_END}\n{AGENTS_BEGIN}\n{AGENTS_END}\n"),
        ];
        for case in cases {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("AGENTS.md"), &case).unwrap();
            let err = install_skill(SkillTarget::Codex, dir.path(), "forecast").unwrap_err();
            assert!(matches!(err, SkillError::Markers { .. }), "{err}");
            let message = err.to_string();
            assert!(message.starts_with("AGENTS.md: ") && !message.contains('\n'));
            assert_eq!(read(dir.path(), "AGENTS.md"), case);
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["", "has space", "a\nb", "<!-- x -->"] {
            let err = install_skill(SkillTarget::Claude, dir.path(), name).unwrap_err();
            assert!(matches!(err, SkillError::ProjectName { .. }));
        }
        let missing = dir.path().join("missing");
        let err = install_skill(SkillTarget::Claude, &missing, "forecast").unwrap_err();
        assert!(matches!(err, SkillError::ProjectDir { .. }));
        assert!(!missing.exists());
        assert_eq!(tree(dir.path()), Vec::<PathBuf>::new());
    }

    #[cfg(unix)]
    #[test]
    fn files_are_readable_by_everyone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        install_skill(SkillTarget::Claude, dir.path(), "forecast").unwrap();
        let mode = std::fs::metadata(dir.path().join(".claude/skills/gluers/SKILL.md"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o044, 0o044, "{mode:o}");
    }

    /// The YAML between the first two `---` lines.
    fn front_matter(text: &str) -> &str {
        let rest = text
            .strip_prefix("---\n")
            .expect("starts with front matter");
        let end = rest.find("\n---\n").expect("front matter is closed");
        &rest[..end]
    }

    /// `$0` … `$9`: Claude Code replaces them with positional arguments.
    fn has_positional_placeholder(text: &str) -> bool {
        text.as_bytes()
            .windows(2)
            .any(|w| w[0] == b'$' && w[1].is_ascii_digit())
    }
}
