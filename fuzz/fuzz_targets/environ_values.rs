//! Which environ strings are reused from one request to the next, fed any
//! sequence of names and values: a name is found only when it is a listed
//! CGI name, and the value given back is always the one made from exactly
//! these bytes, never one kept from an earlier request.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rwsgi_wire::environ_names::{LastValues, NAMES, Value, name_index};

#[derive(Arbitrary, Debug)]
struct Entry {
    /// A listed name (by position) or arbitrary bytes.
    listed: Option<u8>,
    raw_name: Vec<u8>,
    value: Vec<u8>,
    /// Making the value fails (as decoding can, on memory exhaustion).
    fails: bool,
}

fn decoded(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fuzz_target!(|entries: Vec<Entry>| {
    let mut last = LastValues::default();
    for entry in entries {
        let name: Vec<u8> = match entry.listed {
            Some(i) => NAMES[usize::from(i) % NAMES.len()].as_bytes().to_vec(),
            None => entry.raw_name,
        };
        let index = name_index(&name);
        assert_eq!(
            index.is_some(),
            NAMES
                .iter()
                .any(|listed| listed.as_bytes() == name.as_slice()),
            "{name:?}"
        );
        let Some(index) = index else { continue };
        assert_eq!(NAMES[index].as_bytes(), name.as_slice());
        let made = last.get(index, &entry.value, |bytes| {
            if entry.fails {
                Err(())
            } else {
                Ok(decoded(bytes))
            }
        });
        match made {
            Ok(Value::Kept(value)) => assert_eq!(*value, decoded(&entry.value)),
            Ok(Value::Made(value)) => assert_eq!(value, decoded(&entry.value)),
            // Only a value that had to be made can fail.
            Err(()) => assert!(entry.fails),
        }
    }
});
