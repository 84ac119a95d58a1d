//! `<run_folder>/params.json`: the parameters a run's tasks logged with
//! `log_param`, as a JSON object of strings in logging order. Retries of a
//! run folder add to it; a parameter logged again takes the new value.

/// The file in the run folder that holds the logged parameters.
pub const PARAMS_FILE: &str = "params.json";

/// Logged parameters, in logging order.
pub type Params = serde_json::Map<String, serde_json::Value>;

/// Reads `params.json`: a JSON object (values other than strings are kept as
/// JSON); anything else is an error naming what was found.
pub fn params_from_json(text: &str) -> Result<Params, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err("not a JSON object of parameters".to_string()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

/// `params.json`'s text: pretty-printed, with a final newline.
pub fn params_to_json(params: &Params) -> String {
    let mut text = serde_json::to_string_pretty(params).expect("a JSON map serialises");
    text.push('\n');
    text
}

/// A parameter's value as a table cell: strings bare, anything else as JSON.
pub fn param_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_order_and_refusals() {
        let mut p = Params::new();
        p.insert("z".into(), "1".into());
        p.insert("a".into(), "x y".into());
        let text = params_to_json(&p);
        assert_eq!(params_from_json(&text).unwrap(), p);
        assert!(text.find("\"z\"").unwrap() < text.find("\"a\"").unwrap());
        assert!(params_from_json("[1]").is_err());
        assert!(params_from_json("{").is_err());
        assert_eq!(param_text(&serde_json::json!(2.5)), "2.5");
    }
}
