//! A global allocator that zeroes every block when it is freed, so copies of
//! a secret or token made inside libraries (HTTP buffers, JSON parsing,
//! base64 header values) do not linger in freed memory.
//!
//! The binary installs it (`main.rs`); the library never forces it on others.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(true);

pub struct ZeroingAllocator;

/// Turns zeroing off. Only the memory test uses it (through
/// `ACRONIS_CRED_TEST_NO_ZEROING`), to show that the test would notice.
pub fn disable_zeroing() {
    ENABLED.store(false, Ordering::Relaxed);
}

/// Overwrites `len` bytes at `ptr` in a way the optimiser cannot drop.
///
/// # Safety
/// `ptr..ptr+len` must be valid for writes.
unsafe fn wipe(ptr: *mut u8, len: usize) {
    // Volatile, so the stores survive even though the block is freed right
    // after (the optimiser knows `free` and would drop plain stores). Whole
    // words where aligned: a byte at a time is eight times the work.
    let head = ptr.align_offset(8).min(len);
    let words = (len - head) / 8;
    // SAFETY: every offset below stays within ptr..ptr+len.
    unsafe {
        for i in 0..head {
            std::ptr::write_volatile(ptr.add(i), 0);
        }
        let aligned = ptr.add(head).cast::<u64>();
        for i in 0..words {
            std::ptr::write_volatile(aligned.add(i), 0);
        }
        for i in head + words * 8..len {
            std::ptr::write_volatile(ptr.add(i), 0);
        }
    }
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

// SAFETY: every method forwards to `System` with the same layout contract;
// `dealloc` and `realloc` only add a wipe of memory the caller still owns.
unsafe impl GlobalAlloc for ZeroingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ENABLED.load(Ordering::Relaxed) {
            // SAFETY: the block is still owned by the caller until dealloc.
            unsafe { wipe(ptr, layout.size()) };
        }
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !ENABLED.load(Ordering::Relaxed) {
            // SAFETY: forwarded contract.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // System.realloc may move the block and free the old one unwiped:
        // move it ourselves.
        // SAFETY: the caller guarantees new_size is valid for this alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: forwarded contract.
        let new = unsafe { System.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and distinct.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

/// Overwrites a stretch of this thread's stack below the caller's frame,
/// where earlier calls left copies of what they handled.
#[inline(never)]
pub fn scrub_stack() {
    // Deeper than any frame on the paths that handle a secret (the memory
    // test checks); more only costs page faults.
    let mut area = [0u8; 16 * 1024];
    // SAFETY: `area` is a live local array.
    unsafe { wipe(area.as_mut_ptr(), area.len()) };
    std::hint::black_box(&mut area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_reallocates_and_frees() {
        let a = ZeroingAllocator;
        let layout = Layout::from_size_align(64, 8).unwrap();
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            std::ptr::write_bytes(p, 0xAB, 64);
            // A wipe of an odd, unaligned stretch leaves its neighbours alone.
            wipe(p.add(3), 29);
            assert_eq!((*p.add(2), *p.add(3), *p.add(31), *p.add(32)), (0xAB, 0, 0, 0xAB));
            std::ptr::write_bytes(p, 0xAB, 64);
            let q = a.realloc(p, layout, 4096);
            assert!(!q.is_null());
            assert_eq!(*q.add(63), 0xAB);
            a.dealloc(q, Layout::from_size_align(4096, 8).unwrap());
            let z = a.alloc_zeroed(layout);
            assert_eq!(*z, 0);
            a.dealloc(z, layout);
        }
        scrub_stack();
    }
}
