//! The UNIX sockets between Apache children and daemon processes: the
//! listening socket Apache's parent owns, connections with timeouts, and
//! frames sent and received with a file descriptor attached (SCM_RIGHTS).

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

fn address(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the socket path {} is longer than the {} bytes a UNIX socket allows",
                path.display(),
                addr.sun_path.len() - 1
            ),
        ));
    }
    for (slot, &byte) in addr.sun_path.iter_mut().zip(bytes) {
        *slot = byte as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    Ok((addr, len as libc::socklen_t))
}

/// Options of the listening socket.
pub struct ListenOptions {
    pub backlog: u32,
    pub owner: u32,
    pub send_buffer: Option<u32>,
    pub receive_buffer: Option<u32>,
}

/// Binds and listens at `path` (replacing a stale socket there), readable
/// and writable by `owner` alone (and root): only Apache's children may
/// connect. Non-blocking, so daemons poll it.
pub fn listen(path: &Path, options: &ListenOptions) -> io::Result<OwnedFd> {
    let (addr, len) = address(path)?;
    // SAFETY: plain socket calls on a descriptor this function owns; the
    // address is a valid sockaddr_un of `len` bytes.
    unsafe {
        let fd = OwnedFd::from_raw_fd(check(libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        ))?);
        for (option, size) in [
            (libc::SO_SNDBUF, options.send_buffer),
            (libc::SO_RCVBUF, options.receive_buffer),
        ] {
            if let Some(size) = size {
                let size = size as libc::c_int;
                check(libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    option,
                    (&raw const size).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                ))?;
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) => {
                std::fs::remove_file(path)?
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            Err(_) => {}
        }
        // Created 0600 from the start: no moment at which others may connect.
        let previous = libc::umask(0o177);
        let bound = check(libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len));
        libc::umask(previous);
        bound?;
        check(libc::listen(
            fd.as_raw_fd(),
            options.backlog.min(i32::MAX as u32) as libc::c_int,
        ))?;
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
        if libc::geteuid() == 0 {
            check(libc::chown(c_path.as_ptr(), options.owner, u32::MAX))?;
        }
        Ok(fd)
    }
}

/// Accepts one waiting connection, blocking (with the timeouts given to
/// [`set_timeouts`] later); None when none is waiting.
pub fn accept(listener: RawFd) -> io::Result<Option<UnixStream>> {
    // SAFETY: accept4 on a listening socket; the new descriptor is owned
    // by the returned stream.
    let fd = unsafe {
        libc::accept4(
            listener,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        let error = io::Error::last_os_error();
        return match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
            _ if error.raw_os_error() == Some(libc::ECONNABORTED) => Ok(None),
            _ => Err(error),
        };
    }
    // SAFETY: a new descriptor that nothing else owns.
    Ok(Some(unsafe { UnixStream::from_raw_fd(fd) }))
}

/// Connects to `path`, waiting at most `timeout` while its backlog is full.
pub fn connect(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    let (addr, len) = address(path)?;
    // SAFETY: a new socket owned by the stream; the address is valid.
    unsafe {
        let stream = UnixStream::from_raw_fd(check(libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
        ))?);
        // A blocking connect to a full backlog waits, up to SO_SNDTIMEO.
        stream.set_write_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        check(libc::connect(
            stream.as_raw_fd(),
            (&raw const addr).cast(),
            len,
        ))?;
        Ok(stream)
    }
}

pub fn set_timeouts(stream: &UnixStream, timeout: Duration) -> io::Result<()> {
    let timeout = Some(timeout.max(Duration::from_millis(1)));
    stream.set_read_timeout(timeout)?;
    stream.set_write_timeout(timeout)
}

/// Writes all of `parts`, in order, as few system calls as it takes.
pub fn write_all_vectored(stream: &UnixStream, parts: &[&[u8]]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match io::Write::write_vectored(&mut &*stream, slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends `bytes` with the descriptor `fd` attached to their first byte.
pub fn send_with_fd(stream: &UnixStream, bytes: &[u8], fd: RawFd) -> io::Result<()> {
    const SPACE: usize = unsafe_cmsg_space();
    let mut control = [0u8; SPACE];
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr().cast_mut().cast(),
        iov_len: bytes.len(),
    };
    // SAFETY: msghdr is plain data; the iovec and control buffer outlive the
    // call; CMSG_* walk the control buffer we sized with CMSG_SPACE.
    let sent = unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &raw mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = SPACE as _;
        let header = libc::CMSG_FIRSTHDR(&message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        libc::CMSG_DATA(header).cast::<RawFd>().write_unaligned(fd);
        libc::sendmsg(stream.as_raw_fd(), &message, libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let sent = sent as usize;
    if sent < bytes.len() {
        write_all_vectored(stream, &[&bytes[sent..]])?;
    }
    Ok(())
}

const fn unsafe_cmsg_space() -> usize {
    // CMSG_SPACE(sizeof(int)) on Linux: the header, aligned, plus the data
    // aligned to size_t; room for up to 4 descriptors is kept so that a
    // peer sending several cannot make recvmsg truncate silently.
    let align = std::mem::size_of::<usize>();
    let header = (std::mem::size_of::<libc::cmsghdr>() + align - 1) & !(align - 1);
    header + ((4 * std::mem::size_of::<RawFd>() + align - 1) & !(align - 1))
}

/// Reads into `buf`, collecting any descriptors that arrive into `fds`.
/// Ok(0) at the end of the stream.
pub fn recv_with_fds(
    stream: &UnixStream,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<usize> {
    const SPACE: usize = unsafe_cmsg_space();
    let mut control = MaybeUninit::<[u8; SPACE]>::zeroed();
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    loop {
        // SAFETY: as in send_with_fd; the kernel writes at most the given
        // lengths, and every descriptor it passes is taken into an OwnedFd.
        let received = unsafe {
            let mut message: libc::msghdr = std::mem::zeroed();
            message.msg_iov = &raw mut iov;
            message.msg_iovlen = 1;
            message.msg_control = control.as_mut_ptr().cast();
            message.msg_controllen = SPACE as _;
            let n = libc::recvmsg(stream.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 {
                let mut header = libc::CMSG_FIRSTHDR(&message);
                while !header.is_null() {
                    if (*header).cmsg_level == libc::SOL_SOCKET
                        && (*header).cmsg_type == libc::SCM_RIGHTS
                    {
                        let data = libc::CMSG_DATA(header).cast::<RawFd>();
                        let bytes = (*header).cmsg_len as usize - (data as usize - header as usize);
                        for i in 0..bytes / std::mem::size_of::<RawFd>() {
                            fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                        }
                    }
                    header = libc::CMSG_NXTHDR(&message, header);
                }
                if message.msg_flags & libc::MSG_CTRUNC != 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the daemon sent more descriptors than a frame may carry",
                    ));
                }
            }
            n
        };
        if received >= 0 {
            return Ok(received as usize);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// The peer's process id and user id, as the kernel saw them at connect.
pub fn peer(stream: &UnixStream) -> Option<(i32, u32)> {
    // SAFETY: ucred is plain data; getsockopt writes at most `len` bytes.
    unsafe {
        let mut cred: libc::ucred = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        (libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        ) == 0)
            .then_some((cred.pid, cred.uid))
    }
}
