//! Agent instructions: `gluers skill {claude,cursor,github,codex}`.
//!
//! Writes the files that teach a coding agent how this project's pipelines
//! work and how to run the experiment loop with `gluers experiment`. In a
//! gluers Rust project the skill covers the framework (`cargo manage ...`)
//! and the loop; in a Gluepy project (Gluepy documents itself) only the
//! loop, whose commands read `gluers experiment --project-cmd "python
//! manage.py" ...`, with `references/experiments.md` as the only reference.
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

use crate::project::GLUEPY_PROJECT_CMD;

/// The project the instructions are for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkillProject {
    /// The project folder: the files are written under it.
    pub dir: PathBuf,
    /// The project's name, as the instructions call it (a Cargo package
    /// name, or a Gluepy project's folder name).
    pub name: String,
    /// Whether it is a Gluepy project rather than a gluers Rust one.
    pub gluepy: bool,
}

impl SkillProject {
    /// A gluers Rust project: the package in `dir`, called `name`.
    pub fn rust(dir: impl Into<PathBuf>, name: impl Into<String>) -> Self {
        SkillProject {
            dir: dir.into(),
            name: name.into(),
            gluepy: false,
        }
    }

    /// A Gluepy project: `manage.py` in `dir`.
    pub fn gluepy(dir: impl Into<PathBuf>, name: impl Into<String>) -> Self {
        SkillProject {
            gluepy: true,
            ..SkillProject::rust(dir, name)
        }
    }

    /// How the instructions spell the experiment command.
    fn experiment_command(&self) -> String {
        if self.gluepy {
            format!("gluers experiment --project-cmd \"{GLUEPY_PROJECT_CMD}\"")
        } else {
            "gluers experiment".to_string()
        }
    }
}

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
        "project name {name:?} cannot go into the instructions; use letters, digits, '-' and '_' only"
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
        "{}: {problem}; fix the gluers marker lines by hand (or delete them to append a new section), then run `gluers skill codex` again",
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

/// Writes the agent instructions for `target` into the project's folder.
///
/// The project's name appears in the instructions. Returns which files were
/// written and which were already up to date, relative to the project folder.
pub fn install_skill(
    target: SkillTarget,
    project: &SkillProject,
) -> Result<SkillReport, SkillError> {
    let project_dir = project.dir.as_path();
    let project_name = project.name.as_str();
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

    let files = render(target, project)?;
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
fn render(target: SkillTarget, project: &SkillProject) -> Result<Vec<Rendered>, SkillError> {
    let project_name = project.name.as_str();
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
    let regen = format!("gluers skill {}", target.name());
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
        gluepy => project.gluepy,
        experiment => project.experiment_command(),
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
    for (name, _) in references(project) {
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

/// The reference pages of a project: all of them for a gluers project, only
/// the experiment loop for a Gluepy one (its framework documents itself).
fn references(
    project: &SkillProject,
) -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    let gluepy = project.gluepy;
    REFERENCES
        .iter()
        .filter(move |(name, _)| !gluepy || *name == "experiments.md")
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
mod tests;
