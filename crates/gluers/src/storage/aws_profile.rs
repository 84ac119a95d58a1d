//! AWS named profiles (`AWS_PROFILE`, `~/.aws/credentials`, `~/.aws/config`).
//!
//! `object_store` reads keys from the environment, web identity and instance
//! metadata, but not the shared files the AWS CLI writes. This reads the
//! static keys and region of one profile from them, as the AWS SDKs do,
//! when the environment does not set keys itself.

use std::collections::HashMap;
use std::path::PathBuf;

/// The settings of the profile in use, as `object_store` configuration
/// keys (`aws_access_key_id`, ...). Empty when the environment sets keys,
/// or no file names the profile.
pub(super) fn profile_options() -> Vec<(&'static str, String)> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if env("AWS_ACCESS_KEY_ID").is_some() {
        return Vec::new();
    }
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".to_string());
    let home = env("HOME").map(PathBuf::from).unwrap_or_default();
    let credentials = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".aws/credentials"));
    let config = env("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".aws/config"));
    let mut out = Vec::new();
    let keys = section(&credentials, &profile);
    for (file_key, option) in [
        ("aws_access_key_id", "aws_access_key_id"),
        ("aws_secret_access_key", "aws_secret_access_key"),
        ("aws_session_token", "aws_session_token"),
    ] {
        if let Some(value) = keys.get(file_key) {
            out.push((option, value.clone()));
        }
    }
    // In `config`, profiles other than the default are `[profile NAME]`.
    let config_section = if profile == "default" {
        profile.clone()
    } else {
        format!("profile {profile}")
    };
    if env("AWS_REGION").is_none() && env("AWS_DEFAULT_REGION").is_none() {
        if let Some(region) = section(&config, &config_section).get("region") {
            out.push(("aws_region", region.clone()));
        }
    }
    out
}

/// The `key = value` pairs of `[name]` in an INI file; empty if absent.
fn section(path: &std::path::Path, name: &str) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    parse_section(&text, name)
}

fn parse_section(text: &str, name: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = header.trim() == name;
        } else if let (true, Some((key, value))) = (inside, line.split_once('=')) {
            found.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::parse_section;

    #[test]
    fn reads_one_profile_section() {
        let text = "[default]\naws_access_key_id = A\n\n[profile dev]\nregion = eu-west-1\n[dev]\naws_access_key_id=B\n";
        assert_eq!(parse_section(text, "default")["aws_access_key_id"], "A");
        assert_eq!(parse_section(text, "dev")["aws_access_key_id"], "B");
        assert_eq!(parse_section(text, "profile dev")["region"], "eu-west-1");
        assert!(parse_section(text, "other").is_empty());
    }
}
