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

/// An application group as an option names it: a name, `%{GLOBAL}` or an
/// expansion. Empty is refused, as mod_wsgi refuses it ("Invalid name for
/// WSGI application group").
pub fn application_group_option(what: &str, value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err(format!(
            "{what}: the application group's name is empty; %{{GLOBAL}} names the main interpreter"
        ));
    }
    Ok(value.to_string())
}

/// A directive's raw arguments as mod_wsgi reads a line with options:
/// `positional` words as Apache's `ap_getword_conf` reads them (whitespace
/// separates words; a word that starts with a single or double quote runs
/// to the matching quote, a backslash before that quote keeping it; an
/// unclosed quote is an error rather than running to the end of the line), then `name=value`
/// options whose value is itself such a word, so that
/// `display-name='my site'` is one option (mod_wsgi's wsgi_parse_option).
/// The options come back as `name=value` words with the value's quotes
/// gone. A whole option in quotes (`"display-name=my site"`) is read as one
/// word too.
pub fn option_words(raw: &str, positional: usize) -> Result<Vec<String>, String> {
    let mut rest = raw;
    let mut words = Vec::new();
    while words.len() < positional {
        match next_word(&mut rest)? {
            Some(word) => words.push(word),
            None => return Ok(words),
        }
    }
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(words);
        }
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let starts_quoted = rest.starts_with(['\'', '"']);
        if starts_quoted || name_end == 0 || !rest[name_end..].starts_with('=') {
            // Not name=value: left whole for the directive to refuse (or, in
            // quotes, to read as one option).
            words.extend(next_word(&mut rest)?);
            continue;
        }
        let name = &rest[..name_end];
        rest = &rest[name_end + 1..];
        let value = if rest.starts_with(char::is_whitespace) || rest.is_empty() {
            String::new()
        } else {
            next_word(&mut rest)?.unwrap_or_default()
        };
        words.push(format!("{name}={value}"));
    }
}

/// The next word of `rest` as `ap_getword_conf` reads it, leaving `rest`
/// after it; None when only whitespace is left.
fn next_word(rest: &mut &str) -> Result<Option<String>, String> {
    let text = rest.trim_start();
    let mut chars = text.char_indices();
    let Some((_, first)) = chars.next() else {
        *rest = "";
        return Ok(None);
    };
    let mut word = String::new();
    let end = if first == '"' || first == '\'' {
        let mut escaped = false;
        loop {
            match chars.next() {
                None => return Err(format!("a {first} quote is not closed")),
                Some((_, '\\')) if !escaped => {
                    escaped = true;
                    continue;
                }
                Some((at, c)) if c == first && !escaped => break at + c.len_utf8(),
                Some((_, c)) => {
                    if escaped && c != first {
                        word.push('\\');
                    }
                    word.push(c);
                }
            }
            escaped = false;
        }
    } else {
        word.push(first);
        loop {
            match chars.next() {
                Some((at, c)) if c.is_whitespace() => break at,
                Some((_, c)) => word.push(c),
                None => break text.len(),
            }
        }
    };
    *rest = &text[end..];
    Ok(Some(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every word as ap_getword_conf reads it.
    fn conf_words(raw: &str) -> Result<Vec<String>, String> {
        option_words(raw, usize::MAX)
    }

    #[test]
    fn an_option_value_may_be_quoted_and_hold_spaces() {
        assert_eq!(
            option_words("site display-name='my site' python-path=\"/a b:/c\"", 1).unwrap(),
            ["site", "display-name=my site", "python-path=/a b:/c"]
        );
    }

    #[test]
    fn a_quoted_option_value_loses_its_quotes() {
        assert_eq!(
            option_words("/app /srv/app.wsgi process-group='site'", 2).unwrap(),
            ["/app", "/srv/app.wsgi", "process-group=site"]
        );
    }

    #[test]
    fn leading_words_are_read_before_options_even_with_equals_signs() {
        assert_eq!(
            option_words("/a=b /srv/app.wsgi x=1", 2).unwrap(),
            ["/a=b", "/srv/app.wsgi", "x=1"]
        );
    }

    #[test]
    fn an_option_written_whole_in_quotes_is_one_option() {
        assert_eq!(
            option_words("site \"display-name=my site\"", 1).unwrap(),
            ["site", "display-name=my site"]
        );
    }

    #[test]
    fn a_word_that_is_not_an_option_is_left_whole_for_the_directive() {
        assert_eq!(
            option_words("/app /srv/app.wsgi oops =x", 2).unwrap(),
            ["/app", "/srv/app.wsgi", "oops", "=x"]
        );
    }

    #[test]
    fn an_empty_option_value_is_kept_empty() {
        assert_eq!(
            option_words("site display-name= threads=2", 1).unwrap(),
            ["site", "display-name=", "threads=2"]
        );
    }

    #[test]
    fn an_unclosed_quote_in_an_option_value_is_an_error() {
        assert_eq!(
            option_words("site display-name='x", 1).unwrap_err(),
            "a ' quote is not closed"
        );
    }

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
