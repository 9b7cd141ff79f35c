//! Values whose lifetime is an APR pool's.

use std::ffi::{c_char, c_void};

use super::ffi;

/// Moves `value` into memory that lives until `pool` is cleared, and drops it
/// then. This is how Rust configuration structs are handed to Apache.
///
/// # Safety
/// `pool` must be a live APR pool.
pub(super) unsafe fn alloc_owned<T>(pool: *mut ffi::apr_pool_t, value: T) -> *mut T {
    unsafe extern "C" fn drop_boxed<T>(data: *mut c_void) -> ffi::apr_status_t {
        // SAFETY: `data` is the pointer Box::into_raw gave below, and APR runs
        // each registered cleanup exactly once.
        drop(unsafe { Box::from_raw(data.cast::<T>()) });
        0
    }
    let raw = Box::into_raw(Box::new(value));
    // SAFETY: the caller guarantees the pool is live; the cleanup frees `raw`
    // exactly when the pool that owns it goes away.
    unsafe {
        ffi::apr_pool_cleanup_register(
            pool,
            raw.cast(),
            Some(drop_boxed::<T>),
            Some(ffi::apr_pool_cleanup_null),
        )
    };
    raw
}

/// Runs `f` when `pool` is cleared; a panic in it is caught there.
///
/// # Safety
/// `pool` must be a live APR pool.
pub(super) unsafe fn on_clear(pool: *mut ffi::apr_pool_t, f: impl FnOnce() + 'static) {
    struct Cleanup(Option<Box<dyn FnOnce()>>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                // A panic must not unwind into APR's cleanup loop.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            }
        }
    }
    // SAFETY: the pool is live (the caller's contract); the value is
    // dropped, running `f`, when the pool is cleared.
    unsafe { alloc_owned(pool, Cleanup(Some(Box::new(f)))) };
}

/// Copies `bytes` into `pool` as a NUL-terminated C string. Anything handed
/// to Apache that it keeps (content type, status line, table entries set
/// with `setn`) must live in the request pool, never in a Python object.
///
/// # Safety
/// `pool` must be a live APR pool. `bytes` must not contain NUL.
pub(super) unsafe fn strdup(pool: *mut ffi::apr_pool_t, bytes: &[u8]) -> *const c_char {
    debug_assert!(!bytes.contains(&0));
    // SAFETY: apr_pstrmemdup copies `len` bytes and appends a NUL.
    unsafe { ffi::apr_pstrmemdup(pool, bytes.as_ptr().cast(), bytes.len()) }
}
