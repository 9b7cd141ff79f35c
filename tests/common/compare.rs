//! Comparing a fixture app's answers under mod_rwsgi with mod_wsgi's.

use std::collections::BTreeMap;

/// A fixture app's answer of "name<TAB>value" lines, by name.
pub fn tab_separated(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// Fails naming each entry whose value differs between mod_rwsgi's
/// answer and mod_wsgi's (or that only one of them has).
pub fn assert_same_as_mod_wsgis(
    ours: &BTreeMap<String, String>,
    theirs: &BTreeMap<String, String>,
) {
    let differing: Vec<String> = ours
        .keys()
        .chain(theirs.keys().filter(|name| !ours.contains_key(*name)))
        .filter(|name| ours.get(*name) != theirs.get(*name))
        .map(|name| {
            format!(
                "{name}: ours {:?}, mod_wsgi {:?}",
                ours.get(name),
                theirs.get(name)
            )
        })
        .collect();
    assert!(differing.is_empty(), "{differing:#?}");
}
