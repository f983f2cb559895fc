//! The process's standard streams without std's global buffers.
//!
//! `std::io::stdin()` and `stdout()` keep static buffers that are never
//! freed: a secret read through one, or a token written through the other,
//! would stay in memory until exit. These read and write the descriptors
//! directly, buffering only in memory that is zeroed when dropped.

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::mem::ManuallyDrop;

use zeroize::Zeroizing;

/// A borrowed descriptor: never closed by us.
fn borrowed(fd: i32) -> ManuallyDrop<File> {
    #[cfg(unix)]
    {
        use std::os::unix::io::FromRawFd;
        // SAFETY: the standard descriptors stay open for the whole process,
        // and ManuallyDrop keeps the File from closing them.
        ManuallyDrop::new(unsafe { File::from_raw_fd(fd) })
    }
    #[cfg(not(unix))]
    {
        let _ = fd;
        unreachable!("stdio::borrowed is only used on Unix")
    }
}

/// Standard input with a zeroing buffer.
pub struct Stdin {
    file: ManuallyDrop<File>,
    buf: Zeroizing<Vec<u8>>,
    pos: usize,
}

impl Stdin {
    pub fn new() -> Self {
        Stdin { file: borrowed(0), buf: Zeroizing::new(Vec::with_capacity(8192)), pos: 0 }
    }
}

impl Default for Stdin {
    fn default() -> Self {
        Self::new()
    }
}

impl Read for Stdin {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Stdin {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            self.buf.iter_mut().for_each(|b| *b = 0);
            self.buf.clear();
            self.pos = 0;
            let mut chunk = Zeroizing::new([0u8; 8192]);
            let n = loop {
                match self.file.read(&mut chunk[..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.buf.len());
    }
}

/// An unbuffered standard output or error: every write is a write(2).
pub struct Out {
    file: ManuallyDrop<File>,
}

impl Out {
    pub fn stdout() -> Self {
        Out { file: borrowed(1) }
    }

    pub fn stderr() -> Self {
        Out { file: borrowed(2) }
    }
}

impl Write for Out {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.file.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
