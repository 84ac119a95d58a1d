//! The commands around DAGs: scaffolding a module, and the pointers for
//! commands that moved to the installed `gluers` binary.

use std::path::Path;

use crate::error::{GluersError, Result};

/// `startmodule NAME`.
pub fn startmodule(project_dir: &Path, name: &str) -> Result<()> {
    let files = crate::scaffold::start_module(project_dir, name)
        .map_err(|e| GluersError::Usage(e.to_string()))?;
    for file in files {
        let shown = file.strip_prefix(project_dir).unwrap_or(&file);
        let verb = if shown == Path::new("src/main.rs") {
            "updated"
        } else {
            "created"
        };
        println!("{verb} {}", shown.display());
    }
    println!("run it: cargo manage dag {name}");
    Ok(())
}

/// `experiment ...` and `skill ...`: the engine and the skills are not part
/// of a project binary (a project must not build the code that judges it).
/// A usage error naming the `gluers` command to run instead.
pub fn moved_to_gluers(command: &str, args: &[String]) -> GluersError {
    let mut line = format!("gluers {command}");
    for arg in args {
        line.push(' ');
        line.push_str(&shell_word(arg));
    }
    GluersError::Usage(format!(
        "`{command}` is not a project command: run `{line}` in this folder instead, with the installed gluers binary (`cargo install gluers-cli`, or `cargo install --path crates/gluers-cli` in a gluers checkout)"
    ))
}

/// `word` quoted for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pointer_is_one_line_with_the_command_to_run() {
        let args: Vec<String> = ["init", "forecast", "--goal", "lower mape's"]
            .map(String::from)
            .to_vec();
        let err = moved_to_gluers("experiment", &args);
        assert_eq!(err.exit_status(), gluers_formats::exit::ExitStatus::Usage);
        let message = err.to_string();
        assert!(
            message.contains(
                r#"run `gluers experiment init forecast --goal 'lower mape'\''s'` in this folder"#
            ),
            "{message}"
        );
        assert!(!message.contains('\n'));
    }
}
