//! A borrowed view of an APR table (headers, notes, the CGI environment).

use std::ffi::CStr;
use std::marker::PhantomData;

use super::{ffi, pool};

pub struct Table<'r> {
    raw: *mut ffi::apr_table_t,
    pool: *mut ffi::apr_pool_t,
    _request: PhantomData<&'r ffi::request_rec>,
}

impl<'r> Table<'r> {
    /// # Safety
    /// `raw` and `pool` must live at least as long as `'r`; the pool is the
    /// request pool that new entries are copied into.
    pub(super) unsafe fn from_raw(raw: *mut ffi::apr_table_t, pool: *mut ffi::apr_pool_t) -> Self {
        Self {
            raw,
            pool,
            _request: PhantomData,
        }
    }

    /// Every (key, value) pair in insertion order, duplicates included.
    pub fn entries(&self) -> impl Iterator<Item = (&'r [u8], &'r [u8])> + 'r {
        // SAFETY: apr_table_elts returns the table's own array header; the
        // table lives for 'r and is not modified while this iterator exists
        // (Table is borrowed by it through 'r, and no method here adds while
        // iterating).
        let (entries, count) = unsafe {
            let header = &*ffi::apr_table_elts(self.raw);
            (
                header.elts as *const ffi::apr_table_entry_t,
                header.nelts.max(0) as usize,
            )
        };
        (0..count).filter_map(move |i| {
            // SAFETY: i < nelts, and each entry holds C strings owned by the
            // table's pool.
            let entry = unsafe { &*entries.add(i) };
            if entry.key.is_null() || entry.val.is_null() {
                return None;
            }
            // SAFETY: non-null NUL-terminated strings in the request pool.
            unsafe {
                Some((
                    CStr::from_ptr(entry.key).to_bytes(),
                    CStr::from_ptr(entry.val).to_bytes(),
                ))
            }
        })
    }

    pub fn get(&self, key: &CStr) -> Option<&'r [u8]> {
        self.get_c_str(key).map(CStr::to_bytes)
    }

    pub fn get_c_str(&self, key: &CStr) -> Option<&'r CStr> {
        // SAFETY: live table; the returned value lives in the table's pool.
        unsafe {
            let value = ffi::apr_table_get(self.raw, key.as_ptr());
            (!value.is_null()).then(|| CStr::from_ptr(value))
        }
    }

    /// Adds an entry, keeping any existing one with the same key. Neither
    /// may contain NUL (callers validate that first).
    pub fn add(&self, key: &[u8], value: &[u8]) {
        // SAFETY: both strings are copied into the request pool first, so
        // apr_table_addn may keep the pointers for the request's life.
        unsafe {
            ffi::apr_table_addn(
                self.raw,
                pool::strdup(self.pool, key),
                pool::strdup(self.pool, value),
            )
        }
    }

    /// Adds an entry under a static key, copying only the value.
    pub fn add_value(&self, key: &'static CStr, value: &[u8]) {
        // SAFETY: the key is 'static and the value is copied into the
        // request pool first, so apr_table_addn may keep both pointers.
        unsafe { ffi::apr_table_addn(self.raw, key.as_ptr(), pool::strdup(self.pool, value)) }
    }

    /// Adds an entry that copies nothing: a static key, and a value that
    /// lives at least as long as the table's pool (a request's string).
    pub fn add_borrowed(&self, key: &'static CStr, value: &'r CStr) {
        // SAFETY: the key is 'static and the value lives for 'r, the life
        // of the pool this table's entries live in.
        unsafe { ffi::apr_table_addn(self.raw, key.as_ptr(), value.as_ptr()) }
    }

    /// Replaces every entry with this key.
    pub fn set(&self, key: &[u8], value: &[u8]) {
        // SAFETY: as in `add`.
        unsafe {
            ffi::apr_table_setn(
                self.raw,
                pool::strdup(self.pool, key),
                pool::strdup(self.pool, value),
            )
        }
    }

    /// Removes every entry with this key.
    pub fn unset(&self, key: &CStr) {
        // SAFETY: live table; the key is only read.
        unsafe { ffi::apr_table_unset(self.raw, key.as_ptr()) }
    }
}
