//! Formatting numbers the way Python's `repr(float)` does, so the metrics
//! block, `metrics.json` and `--compare` match Gluepy byte for byte.

/// Formats `x` like Python's `repr(float(x))`: the shortest digits that
/// round-trip, scientific notation below 1e-4 and from 1e16 on.
///
/// ```
/// use gluers_formats::python_float;
/// assert_eq!(python_float(12.5), "12.5");
/// assert_eq!(python_float(1.0), "1.0");
/// assert_eq!(python_float(1e16), "1e+16");
/// assert_eq!(python_float(0.0001), "0.0001");
/// assert_eq!(python_float(0.00001), "1e-05");
/// ```
pub fn python_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "1.25e1".
    let sci = format!("{:e}", x);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..16).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    let body = if point <= 0 {
        format!("0.{}{}", "0".repeat((-point) as usize), digits)
    } else if point as usize >= digits.len() {
        format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::python_float;

    #[test]
    fn matches_python_repr() {
        // Values checked against CPython 3.11's repr().
        let cases = [
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.03, "-0.03"),
            (10.434_f64, "10.434"),
            (123456789.0, "123456789.0"),
            (1e15, "1000000000000000.0"),
            (1.5e16, "1.5e+16"),
            (1e20, "1e+20"),
            (1e-5, "1e-05"),
            (2.5e-7, "2.5e-07"),
            (0.00012, "0.00012"),
            (-1.0, "-1.0"),
            (5.0, "5.0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ];
        for (x, want) in cases {
            assert_eq!(python_float(x), want, "{x:?}");
        }
    }
}
