//! wsgi.file_wrapper: a file-like object returned by the app. A real file
//! is handed to Apache as a file (sendfile or mmap, as for static files),
//! from its current position; anything else is read in blocks.

use std::os::fd::RawFd;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::response::Response;

/// The block size when the app gives none, as in mod_wsgi.
const DEFAULT_BLOCK_SIZE: usize = 8192;

#[pyclass(frozen, module = "mod_rwsgi", name = "FileWrapper")]
pub struct FileWrapper {
    #[pyo3(get)]
    filelike: Py<PyAny>,
    #[pyo3(get)]
    blksize: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize = None))]
    fn new(filelike: Py<PyAny>, blksize: Option<isize>) -> PyResult<Self> {
        let blksize = match blksize {
            None => DEFAULT_BLOCK_SIZE,
            Some(size) => usize::try_from(size)
                .ok()
                .filter(|&size| size > 0)
                .ok_or_else(|| PyValueError::new_err("blksize must be a positive integer"))?,
        };
        Ok(Self { filelike, blksize })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let block = self
            .filelike
            .bind(py)
            .call_method1(pyo3::intern!(py, "read"), (self.blksize,))?;
        Ok(block.is_truthy()?.then_some(block))
    }

    /// Closes the file, as PEP 3333 asks of the server's close() call.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        match self
            .filelike
            .bind(py)
            .getattr_opt(pyo3::intern!(py, "close"))?
        {
            Some(close) => close.call0().map(drop),
            None => Ok(()),
        }
    }
}

/// Sends the wrapped file through Apache when it is a regular file with a
/// descriptor and a position. Ok(false) when it is not, and the caller
/// should iterate the wrapper instead.
pub fn send(py: Python<'_>, wrapper: &FileWrapper, response: &Response) -> PyResult<bool> {
    let Some((fd, offset)) = descriptor_and_position(py, wrapper.filelike.bind(py)) else {
        return Ok(false);
    };
    let Some(size) = regular_file_size(fd) else {
        return Ok(false);
    };
    response.write_file(py, fd, offset, size.saturating_sub(offset))?;
    Ok(true)
}

/// fileno() and tell() of a file-like; None when either is missing or
/// fails (an in-memory file, a socket, a pipe).
fn descriptor_and_position(py: Python<'_>, filelike: &Bound<'_, PyAny>) -> Option<(RawFd, u64)> {
    let fd: RawFd = filelike
        .call_method0(pyo3::intern!(py, "fileno"))
        .and_then(|fd| fd.extract())
        .ok()?;
    let offset: u64 = filelike
        .call_method0(pyo3::intern!(py, "tell"))
        .and_then(|offset| offset.extract())
        .ok()?;
    Some((fd, offset))
}

/// The size of the file open as `fd`, if it is a regular file.
fn regular_file_size(fd: RawFd) -> Option<u64> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole `struct stat` into the buffer on success;
    // a bad descriptor only makes it fail.
    if unsafe { libc::fstat(fd, stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so the buffer is initialised.
    let stat = unsafe { stat.assume_init() };
    ((stat.st_mode & libc::S_IFMT) == libc::S_IFREG).then_some(stat.st_size as u64)
}
