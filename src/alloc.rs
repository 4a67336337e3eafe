//! The binary's memory allocator: size classes with per-thread free lists, carved from large
//! chunks, for a process that lives a few milliseconds.
//!
//! Why not the system allocator: `amctl render prod` makes about 8,200 allocations, most of
//! them small and never freed before exit. glibc's malloc spent 1.5 M of the 8.1 M
//! instructions of that render (callgrind), most of them on the slow path that carves a
//! fresh block from the top of the heap. Here a small allocation is a free-list pop or a
//! pointer bump: a few instructions, no lock, no header.
//!
//! - Sizes up to [`MAX_SMALL`] bytes with alignment up to [`GRAIN`] are rounded up to a
//!   multiple of [`GRAIN`]: one class per multiple. Each thread has a free list per class and
//!   a bump region; a freed block goes onto the freeing thread's list for its class and is
//!   reused by the next allocation of that class on that thread. Blocks have no header: the
//!   class comes from the layout the caller passes back, as `GlobalAlloc` guarantees.
//! - Bump regions are [`CHUNK`]-byte blocks taken from the system allocator and never given
//!   back: memory freed into a class stays in that class until the process exits. That is
//!   the trade: a render keeps almost everything it allocates until it writes its output.
//! - Larger or over-aligned allocations go to the system allocator untouched. (Power-of-two
//!   classes up to 256 KiB were tried: 40 more page faults per render of prod, 10 MiB more at
//!   1,000 services, and 2-4% slower in 3 x 1,000 interleaved runs; glibc reuses freed medium
//!   blocks across sizes, classes cannot.)
//!
//! Nothing here is shared between threads, so there is no lock. A block allocated on one
//! thread and freed on another joins the freeing thread's list, which is sound: blocks are
//! never returned to a chunk, and chunks are never freed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr::{self, null_mut};

/// Size-class step and the alignment every block from a class has.
pub const GRAIN: usize = 16;
/// The largest size served from classes: the multiples of [`GRAIN`] up to it.
pub const MAX_SMALL: usize = 1024;
const CLASSES: usize = MAX_SMALL / GRAIN;
/// Bytes taken from the system allocator when a thread's bump region runs out.
pub const CHUNK: usize = 64 * 1024;

/// A thread's state: its bump region and one free list per class. Plain data with a constant
/// initializer and no destructor, so reaching it never allocates and never fails.
struct Local {
    next: *mut u8,
    end: *mut u8,
    free: [*mut u8; CLASSES],
}

thread_local! {
    static LOCAL: UnsafeCell<Local> = const {
        UnsafeCell::new(Local {
            next: null_mut(),
            end: null_mut(),
            free: [null_mut(); CLASSES],
        })
    };
}

/// The allocator; `#[global_allocator]` in the binary.
pub struct Amalloc;

/// The class of a layout served from classes, or None for the system allocator.
#[inline]
fn class(layout: Layout) -> Option<usize> {
    if layout.size() <= MAX_SMALL && layout.align() <= GRAIN {
        // Size 0 never reaches a GlobalAlloc; were it to, it gets the smallest class.
        Some(layout.size().saturating_sub(1) / GRAIN)
    } else {
        None
    }
}

/// The block size of class `c`.
#[inline]
fn class_size(c: usize) -> usize {
    (c + 1) * GRAIN
}

impl Local {
    /// A block of class `c`: the head of its free list, else the next bytes of the bump
    /// region, else a new region. Null when the system is out of memory.
    #[inline]
    fn take(&mut self, c: usize) -> *mut u8 {
        let head = self.free[c];
        if !head.is_null() {
            // SAFETY: a block on a free list holds the next pointer in its first word (written
            // by `give`), and is at least GRAIN bytes and GRAIN-aligned.
            self.free[c] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let bytes = class_size(c);
        if (self.end as usize) - (self.next as usize) < bytes {
            // SAFETY: CHUNK is a valid, non-zero size and GRAIN a power of two.
            let chunk = unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, GRAIN)) };
            if chunk.is_null() {
                return null_mut();
            }
            // The rest of the old region (under one block) is left unused.
            self.next = chunk;
            // SAFETY: one past the end of the chunk just allocated.
            self.end = unsafe { chunk.add(CHUNK) };
        }
        let block = self.next;
        // SAFETY: `bytes` fit between next and end, checked above.
        self.next = unsafe { block.add(bytes) };
        block
    }

    /// Puts a block of class `c` on the front of its free list.
    #[inline]
    fn give(&mut self, c: usize, block: *mut u8) {
        // SAFETY: the block is at least GRAIN bytes, GRAIN-aligned, and no longer in use.
        unsafe { block.cast::<*mut u8>().write(self.free[c]) };
        self.free[c] = block;
    }
}

#[inline]
fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> R {
    // SAFETY: LOCAL is this thread's own; `f` never re-enters the allocator, so this is the
    // only reference to it for the duration of the call.
    LOCAL.with(|l| f(unsafe { &mut *l.get() }))
}

// SAFETY: blocks from classes are GRAIN-aligned regions of at least the requested size (the
// class size), each handed out once until it is freed; everything else is the system
// allocator's.
unsafe impl GlobalAlloc for Amalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            Some(c) => with_local(|l| l.take(c)),
            // SAFETY: the caller's layout contract, passed on.
            None => unsafe { System.alloc(layout) },
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            Some(c) => {
                let p = with_local(|l| l.take(c));
                if !p.is_null() {
                    // SAFETY: p is a block of at least layout.size() bytes, now the caller's.
                    unsafe { ptr::write_bytes(p, 0, layout.size()) };
                }
                p
            }
            // SAFETY: the caller's layout contract, passed on.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match class(layout) {
            Some(c) => with_local(|l| l.give(c, ptr)),
            // SAFETY: a block of this layout came from System (class() decides both ways).
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees new_size, rounded up to the alignment, does not overflow.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new)) {
            // Same class: the block already has room.
            (Some(a), Some(b)) if a == b => ptr,
            // SAFETY: both System's; the caller's contract, passed on.
            (None, None) => unsafe { System.realloc(ptr, layout, new_size) },
            _ => {
                // SAFETY: `new` is a valid layout (above); the old block holds layout.size()
                // bytes and is freed once, after the copy.
                unsafe {
                    let p = self.alloc(new);
                    if !p.is_null() {
                        ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    p
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    /// The bytes of a block the tests write and check: all of them, or under Miri (slow) every
    /// 61st (the same ones in a shorter prefix, so a realloc's kept bytes were all written).
    fn probe(len: usize) -> impl Iterator<Item = usize> {
        (0..len).step_by(if cfg!(miri) { 61 } else { 1 })
    }

    /// Fills a block with a pattern of its own, so overlapping blocks would show.
    fn fill(p: *mut u8, len: usize, seed: u8) {
        for i in probe(len) {
            unsafe { p.add(i).write(seed.wrapping_add(i as u8)) };
        }
    }

    fn holds(p: *const u8, len: usize, seed: u8) -> bool {
        probe(len).all(|i| unsafe { p.add(i).read() } == seed.wrapping_add(i as u8))
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_reused_by_class() {
        let a = Amalloc;
        let sizes = [
            1,
            8,
            15,
            16,
            17,
            100,
            512,
            1000,
            MAX_SMALL,
            MAX_SMALL + 1,
            70_000,
            5000,
        ];
        let mut live = Vec::new();
        for (n, &size) in sizes
            .iter()
            .cycle()
            .take(if cfg!(miri) { 100 } else { 2_000 })
            .enumerate()
        {
            let align = [1, 2, 8, 16][n % 4];
            let l = layout(size, align);
            let p = unsafe { a.alloc(l) };
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0, "size {size} align {align}");
            fill(p, size, n as u8);
            live.push((p, l, n as u8));
        }
        for &(p, l, seed) in &live {
            assert!(holds(p, l.size(), seed), "a block was overwritten");
        }
        // Free every other block; the next allocations of those classes reuse them.
        let freed: Vec<_> = live.iter().step_by(2).copied().collect();
        for &(p, l, _) in &freed {
            unsafe { a.dealloc(p, l) };
        }
        for &(p, l, _) in freed.iter().rev().take(20) {
            if class(l).is_some() {
                let q = unsafe { a.alloc(l) };
                assert_eq!(
                    q, p,
                    "the last block freed in a class is the next one handed out"
                );
            }
        }
        for &(p, l, seed) in live.iter().skip(1).step_by(2) {
            assert!(
                holds(p, l.size(), seed),
                "freeing a neighbour overwrote a block"
            );
        }
    }

    #[test]
    fn over_aligned_and_large_go_to_the_system() {
        assert_eq!(class(layout(64, 32)), None);
        assert_eq!(class(layout(MAX_SMALL + 1, 8)), None);
        assert_eq!(class(layout(MAX_SMALL, 16)), Some(CLASSES - 1));
        assert_eq!(class_size(CLASSES - 1), MAX_SMALL);
        for size in [1, 15, 16, 17, 1000, 1024] {
            let c = class(layout(size, 1)).unwrap();
            assert!(class_size(c) >= size, "class {c} holds {size}");
            assert!(
                c == 0 || class_size(c - 1) < size,
                "{size} is in the smallest class that holds it"
            );
        }
        assert_eq!(class(layout(1, 1)), Some(0));
        assert_eq!(class(layout(17, 1)), Some(1));
        let a = Amalloc;
        let l = layout(4096, 4096);
        let p = unsafe { a.alloc(l) };
        assert_eq!(p as usize % 4096, 0);
        unsafe { a.dealloc(p, l) };
    }

    #[test]
    fn realloc_keeps_contents_across_classes_and_the_system() {
        let a = Amalloc;
        let mut l = layout(3, 8);
        let mut p = unsafe { a.alloc(l) };
        fill(p, 3, 7);
        // Grow through small classes into the system allocator and back down.
        for size in [9, 16, 17, 200, 1024, 1025, 70_000, 2000, 1024, 40, 3] {
            let keep = l.size().min(size);
            let q = unsafe { a.realloc(p, l, size) };
            assert!(!q.is_null());
            assert!(
                holds(q, keep, 7),
                "realloc {} -> {size} lost data",
                l.size()
            );
            if class(l).is_some() && class(l) == class(layout(size, 8)) {
                assert_eq!(q, p, "a realloc within the class stays in place");
            }
            l = layout(size, 8);
            p = q;
            fill(p, size, 7);
        }
        unsafe { a.dealloc(p, l) };
    }

    #[test]
    fn alloc_zeroed_zeroes_reused_blocks() {
        let a = Amalloc;
        let l = layout(200, 8);
        let p = unsafe { a.alloc(l) };
        fill(p, 200, 1);
        unsafe { a.dealloc(p, l) };
        let q = unsafe { a.alloc_zeroed(l) };
        assert_eq!(q, p);
        assert!((0..200).all(|i| unsafe { q.add(i).read() } == 0));
        let big = layout(100_000, 8);
        let r = unsafe { a.alloc_zeroed(big) };
        assert!((0..100_000).all(|i| unsafe { r.add(i).read() } == 0));
        unsafe { a.dealloc(q, l) };
        unsafe { a.dealloc(r, big) };
    }

    #[test]
    fn blocks_move_between_threads() {
        // Allocated on one thread, freed on others (as the YAML workers' chunks are), and
        // reused there: every live block keeps its contents.
        struct Block(*mut u8, Layout, u8);
        // SAFETY: a block is plain memory; the test hands each to one thread at a time.
        unsafe impl Send for Block {}
        // Miri checks the same steps, fewer times (chunks are never freed: run it with
        // MIRIFLAGS=-Zmiri-ignore-leaks).
        let (count, reuse) = if cfg!(miri) { (60, 20) } else { (3_000, 500) };
        let made: Vec<Vec<Block>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4u8)
                .map(|t| {
                    s.spawn(move || {
                        (0..count)
                            .map(|i| {
                                let l = layout(1 + (i * 37 + t as usize * 11) % 1500, 8);
                                let p = unsafe { Amalloc.alloc(l) };
                                fill(p, l.size(), t ^ i as u8);
                                Block(p, l, t ^ i as u8)
                            })
                            .collect()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        std::thread::scope(|s| {
            for (t, blocks) in made.into_iter().enumerate() {
                s.spawn(move || {
                    for Block(p, l, seed) in &blocks {
                        assert!(holds(*p, l.size(), *seed));
                    }
                    for Block(p, l, _) in blocks.iter().skip(t % 2).step_by(2) {
                        unsafe { Amalloc.dealloc(*p, *l) };
                    }
                    for (i, Block(_, l, _)) in blocks.iter().enumerate().take(reuse) {
                        let q = unsafe { Amalloc.alloc(*l) };
                        fill(q, l.size(), i as u8);
                        assert!(holds(q, l.size(), i as u8));
                    }
                    for Block(p, l, seed) in blocks.iter().skip(1 - t % 2).step_by(2) {
                        assert!(holds(*p, l.size(), *seed));
                    }
                });
            }
        });
    }
}
