//! Small readers that several directives share.

/// On or Off, in any case, as Apache's own flags.
pub fn on_off(name: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{name}: '{value}' is not accepted; use On or Off")),
    }
}

/// A process group as a directive or option names it: a group's name,
/// `%{GLOBAL}` (Apache's own processes) or an expansion, kept as written and
/// expanded per request.
pub fn process_group_option(what: &str, value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err(format!("{what}: the process group's name is empty"));
    }
    Ok(value.to_string())
}

/// Splits a directive's raw arguments into words as Apache's
/// `ap_getword_conf` does: whitespace separates them, and a word that
/// starts with a single or double quote runs to the matching quote (a
/// backslash before that quote keeps it in the word). An unclosed quote is
/// an error rather than silently running to the end of the line.
pub fn conf_words(raw: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = raw.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(first) = chars.next() else {
            return Ok(words);
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            loop {
                match chars.next() {
                    None => return Err(format!("a {first} quote is not closed")),
                    Some('\\') if chars.peek() == Some(&first) => {
                        word.push(first);
                        chars.next();
                    }
                    Some(c) if c == first => break,
                    Some(c) => word.push(c),
                }
            }
        } else {
            word.push(first);
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_and_off_in_any_case() {
        assert_eq!(on_off("X", "ON"), Ok(true));
        assert_eq!(on_off("X", "off"), Ok(false));
        assert_eq!(
            on_off("X", "yes").unwrap_err(),
            "X: 'yes' is not accepted; use On or Off"
        );
    }

    #[test]
    fn words_split_on_whitespace() {
        assert_eq!(conf_words("  a b\tc  ").unwrap(), ["a", "b", "c"]);
        assert!(conf_words("   ").unwrap().is_empty());
    }

    #[test]
    fn quoted_words_keep_spaces_and_escaped_quotes() {
        assert_eq!(
            conf_words(r#""a b" 'c "d"' "e\"f""#).unwrap(),
            ["a b", r#"c "d""#, r#"e"f"#]
        );
    }

    #[test]
    fn an_unclosed_quote_is_an_error() {
        assert!(conf_words("a 'b c").is_err());
    }
}
