//! The binary's memory allocator: size classes with free lists, carved from an arena that
//! starts on a huge page, for a process that lives a few milliseconds.
//!
//! Why not the system allocator: `amctl render prod` makes about 8,200 allocations, most of
//! them small and never freed before exit. glibc's malloc spent 1.5 M of the 8.1 M
//! instructions of that render (callgrind), most of them on the slow path that carves a
//! fresh block from the top of the heap. Here a small allocation is a free-list pop or a
//! pointer bump: a few instructions, no lock, no header.
//!
//! Why an arena of its own: first touching a page costs the kernel about 2 µs here (a fault,
//! a zeroed page, a page-table entry: 256 pages touched in a row took 0.5 ms), and a render of
//! prod touched about 250 pages of heap. The arena's first 64 MiB are advised
//! `MADV_HUGEPAGE` (why no more: see `map`), so where transparent huge pages are on
//! (`always` or `madvise`, the usual defaults), its first touch maps a whole 2 MiB page in
//! one fault (0.13 ms) and the rest of a render of prod faults no heap at all: 335 page
//! faults per render became 97, and the render ~12% faster. Where huge pages are off, the
//! arena faults 4 KiB pages like any heap, and a render takes as long as with glibc's heap (it
//! touches a little more: 1.2 MB where glibc's heap held 1.0 MB).
//!
//! - Sizes up to [`MAX_SMALL`] bytes with alignment up to [`GRAIN`] are rounded up to a
//!   multiple of [`GRAIN`]: one class per multiple. Each thread has a free list per class and
//!   a bump region of [`CHUNK`] bytes carved from the arena; a freed block goes onto the
//!   freeing thread's list for its class and is reused by the next allocation of that class
//!   on that thread. Blocks have no header: the class comes from the layout the caller passes
//!   back, as `GlobalAlloc` guarantees.
//! - Sizes above that, up to [`MAX_LARGE`], are rounded up to a large class, four per power
//!   of two (1280, 1536, 1792, 2048, 2560, ...: a `Vec` that doubles stays in step with them,
//!   and powers of two alone left 1.34 MB carved instead of 1.22). Each large class has one
//!   free list, shared by all threads under a lock (a render makes about 250 such
//!   allocations). Large blocks are carved from the arena's top, so the block carved last
//!   grows and shrinks in place and, when freed, goes back to the top: a `String` or `Vec`
//!   that grows while nothing else is carved is never copied.
//! - The arena takes address space from the kernel in segments (64 MiB, then each next one
//!   twice the last), touched only as it is carved, and never gives it back: memory freed
//!   into a class stays in that class until the process exits. That is the trade: a render
//!   keeps almost everything it allocates until it writes its output.
//! - Larger or over-aligned allocations go to the system allocator untouched.
//!
//! Small blocks on one thread need no lock. A block allocated on one thread and freed on
//! another joins the freeing thread's list, which is sound: blocks are never returned to the
//! arena's segments, and segments are never unmapped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr::{self, null_mut};
use std::sync::atomic::{AtomicBool, Ordering};

/// Size-class step and the alignment every block from a class has.
pub const GRAIN: usize = 16;
/// The largest size served from small classes: the multiples of [`GRAIN`] up to it.
pub const MAX_SMALL: usize = 1024;
const CLASSES: usize = MAX_SMALL / GRAIN;
/// Bytes a thread carves from the arena when its bump region for small blocks runs out.
pub const CHUNK: usize = 64 * 1024;
/// The largest size served from large classes, four per power of two above [`MAX_SMALL`].
pub const MAX_LARGE: usize = 1 << 20;
const LARGE_CLASSES: usize = 4 * (MAX_LARGE.trailing_zeros() - MAX_SMALL.trailing_zeros()) as usize;
/// Address space of the arena's first segment; each next one is twice the last.
const FIRST_SEGMENT: usize = if cfg!(miri) { 4 << 20 } else { 64 << 20 };

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

/// Where a layout is served from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A small class: a multiple of [`GRAIN`].
    Small(usize),
    /// A large class: four per power of two (see [`large_size`]).
    Large(usize),
    /// The system allocator.
    System,
}

/// Where `layout` is served from.
#[inline]
fn kind(layout: Layout) -> Kind {
    let size = layout.size();
    if layout.align() > GRAIN || size > MAX_LARGE {
        Kind::System
    } else if size <= MAX_SMALL {
        // Size 0 never reaches a GlobalAlloc; were it to, it gets the smallest class.
        Kind::Small(size.saturating_sub(1) / GRAIN)
    } else {
        // 2^(bits-1) < size <= 2^bits, and that range has four classes a quarter apart.
        let bits = usize::BITS - (size - 1).leading_zeros();
        let quarter = (size - 1 - (1 << (bits - 1))) >> (bits - 3);
        Kind::Large(4 * (bits - MAX_SMALL.trailing_zeros() - 1) as usize + quarter)
    }
}

/// The block size of small class `c`.
#[inline]
fn class_size(c: usize) -> usize {
    (c + 1) * GRAIN
}

/// The block size of large class `c`: four per power of two, 1280, 1536, 1792, 2048, 2560, ...
#[inline]
fn large_size(c: usize) -> usize {
    let half = MAX_SMALL << (c / 4);
    half + (c % 4 + 1) * (half / 4)
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
        if self.end.addr() - self.next.addr() < bytes {
            let chunk = ARENA.lock().carve(CHUNK);
            if chunk.is_null() {
                return null_mut();
            }
            // The rest of the old region (under one block) is left unused.
            self.next = chunk;
            // SAFETY: one past the end of the chunk just carved.
            self.end = unsafe { chunk.add(CHUNK) };
        }
        let block = self.next;
        // SAFETY: `bytes` fit between next and end, checked above.
        self.next = unsafe { block.add(bytes) };
        block
    }

    /// Resizes `block` from small class `from` to `to` where it is, if it was the last one
    /// bumped from this thread's region and the region has room.
    #[inline]
    fn resize_on_top(&mut self, block: *mut u8, from: usize, to: usize) -> bool {
        // (Checked in this order, the subtraction cannot wrap: the block ends at `next`.)
        if block.addr() + class_size(from) == self.next.addr()
            && self.end.addr() - block.addr() >= class_size(to)
        {
            // SAFETY: the block lies in the current region, which has room for `to`.
            self.next = unsafe { block.add(class_size(to)) };
            true
        } else {
            false
        }
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

/// The memory small chunks and large blocks are carved from, and the large classes' free
/// lists. Pointers, not addresses, so that every block keeps its segment's provenance.
struct Arena {
    /// The next free byte of the current segment, its end, and its start (null before the
    /// first segment).
    next: *mut u8,
    end: *mut u8,
    start: *mut u8,
    /// Address space of the next segment.
    grow: usize,
    /// The head of each large class's free list (null: empty); a free block holds the next
    /// one's pointer in its first word.
    free: [*mut u8; LARGE_CLASSES],
}

// SAFETY: the arena only hands out memory it owns; it is reached under ARENA's lock.
unsafe impl Send for Arena {}

impl Arena {
    /// Bytes left in the current segment from `p` on.
    fn room(&self, p: *mut u8) -> usize {
        self.end.addr() - p.addr()
    }

    /// `bytes` (a multiple of GRAIN) from the top of the current segment, else from a new
    /// one. Null when the system is out of memory.
    fn carve(&mut self, bytes: usize) -> *mut u8 {
        if self.room(self.next) < bytes {
            let len = self.grow.max(bytes);
            // Huge pages for the first segment only: see `map`.
            let Some(start) = map(len, self.start.is_null()) else {
                return null_mut();
            };
            // The rest of the old segment is left unused (and, never touched, unbacked).
            self.start = start;
            self.next = start;
            // SAFETY: one past the end of the segment just mapped.
            self.end = unsafe { start.add(len) };
            self.grow = len.saturating_mul(2);
        }
        let block = self.next;
        // SAFETY: `bytes` fit between next and end, checked above.
        self.next = unsafe { block.add(bytes) };
        block
    }

    /// Whether the block at `p` of `size` bytes is the last one carved.
    fn on_top(&self, p: *mut u8, size: usize) -> bool {
        p.addr() >= self.start.addr() && p.addr() + size == self.next.addr()
    }

    /// A block of large class `c`: the head of its free list, else carved.
    fn take(&mut self, c: usize) -> *mut u8 {
        let head = self.free[c];
        if !head.is_null() {
            // SAFETY: a free large block holds the next one's pointer in its first word
            // (written by `give`), and is GRAIN-aligned.
            self.free[c] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        self.carve(large_size(c))
    }

    /// Frees a block of large class `c`: back to the top if it was carved last, else onto
    /// its class's free list.
    fn give(&mut self, c: usize, block: *mut u8) {
        if self.on_top(block, large_size(c)) {
            self.next = block;
        } else {
            // SAFETY: the block is over MAX_SMALL bytes, GRAIN-aligned, and no longer in use.
            unsafe { block.cast::<*mut u8>().write(self.free[c]) };
            self.free[c] = block;
        }
    }

    /// Resizes `block` from large class `from` to `to` where it is, if it was carved last
    /// and the segment has room.
    fn resize_on_top(&mut self, block: *mut u8, from: usize, to: usize) -> bool {
        if self.on_top(block, large_size(from)) && self.room(block) >= large_size(to) {
            // SAFETY: the block lies in the current segment (on top), with room for `to`.
            self.next = unsafe { block.add(large_size(to)) };
            true
        } else {
            false
        }
    }
}

/// A spin lock: it is held for a few dozen instructions, and unlike `std::sync::Mutex` on
/// some platforms it never allocates.
struct Lock<T> {
    held: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, and one guard exists at a time.
unsafe impl<T: Send> Sync for Lock<T> {}

struct Guard<'a, T>(&'a Lock<T>);

impl<T> Lock<T> {
    fn lock(&self) -> Guard<'_, T> {
        while self
            .held
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        Guard(self)
    }
}

impl<T> std::ops::Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.0.value.get() }
    }
}

impl<T> std::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and is borrowed mutably.
        unsafe { &mut *self.0.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.0.held.store(false, Ordering::Release);
    }
}

static ARENA: Lock<Arena> = Lock {
    held: AtomicBool::new(false),
    value: UnsafeCell::new(Arena {
        next: null_mut(),
        end: null_mut(),
        start: null_mut(),
        grow: FIRST_SEGMENT,
        free: [null_mut(); LARGE_CLASSES],
    }),
};

/// A new segment of `len` bytes (a multiple of GRAIN): address space from the kernel, backed
/// by huge pages if `huge` and the kernel offers them. Its pages read as zero until written.
///
/// Only the first segment (64 MiB) asks for huge pages. Beyond it they cost more than they
/// save here: a diff of two 20,000-object streams (290 MB) took 2.05 s on 4 KiB pages, 2.53 s
/// on huge pages throughout and 2.22 s with the first 64 MiB on huge pages, while a render
/// of 1,000 services (80 MB) took 95, 57 and 61 ms (interleaved runs). A huge page is zeroed
/// whole at its first touch, and on this VM a fresh one can cost far more than the 0.13 ms
/// of one reused (a C test: 7 ms per huge page the first time 64 MiB were touched, 0.2 ms
/// after).
#[cfg(all(target_os = "linux", not(miri)))]
fn map(len: usize, huge: bool) -> Option<*mut u8> {
    const HUGE: usize = 2 << 20;
    // Room to start the segment on a huge-page boundary: only whole, aligned 2 MiB extents
    // can be backed by a huge page. The slack is address space only, never touched.
    let span = len.checked_add(HUGE)?;
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing.
    let p = unsafe {
        libc::mmap(
            null_mut(),
            span,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    let p = p.cast::<u8>();
    // SAFETY: the offset to the next huge-page boundary, under HUGE: inside the mapping.
    let start = unsafe { p.add(p.addr().next_multiple_of(HUGE) - p.addr()) };
    if huge {
        // Advice only: where the kernel has no transparent huge pages (EINVAL) or they are
        // off (`never`, PR_SET_THP_DISABLE), the segment is backed by 4 KiB pages.
        // SAFETY: [start, start + len) lies inside the mapping just made.
        unsafe { libc::madvise(start.cast(), len, libc::MADV_HUGEPAGE) };
    }
    Some(start)
}

/// A new segment of `len` bytes from the system allocator (other systems, and Miri).
#[cfg(not(all(target_os = "linux", not(miri))))]
fn map(len: usize, _huge: bool) -> Option<*mut u8> {
    let layout = Layout::from_size_align(len, 4096).ok()?;
    // SAFETY: a non-zero size with a valid alignment.
    let p = unsafe { System.alloc(layout) };
    (!p.is_null()).then_some(p)
}

// SAFETY: blocks from classes are GRAIN-aligned regions of at least the requested size (the
// class size), each handed out once until it is freed; everything else is the system
// allocator's.
unsafe impl GlobalAlloc for Amalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match kind(layout) {
            Kind::Small(c) => with_local(|l| l.take(c)),
            Kind::Large(c) => ARENA.lock().take(c),
            // SAFETY: the caller's layout contract, passed on.
            Kind::System => unsafe { System.alloc(layout) },
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match kind(layout) {
            // SAFETY: the caller's layout contract, passed on.
            Kind::System => unsafe { System.alloc_zeroed(layout) },
            _ => {
                // SAFETY: as for `alloc`.
                let p = unsafe { self.alloc(layout) };
                if !p.is_null() {
                    // SAFETY: p is a block of at least layout.size() bytes, now the caller's.
                    unsafe { ptr::write_bytes(p, 0, layout.size()) };
                }
                p
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match kind(layout) {
            Kind::Small(c) => with_local(|l| l.give(c, ptr)),
            Kind::Large(c) => ARENA.lock().give(c, ptr),
            // SAFETY: a block of this layout came from System (kind() decides both ways).
            Kind::System => unsafe { System.dealloc(ptr, layout) },
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees new_size, rounded up to the alignment, does not overflow.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (kind(layout), kind(new)) {
            // Same class: the block already has room.
            (Kind::Small(a), Kind::Small(b)) if a == b => ptr,
            (Kind::Large(a), Kind::Large(b)) if a == b => ptr,
            (Kind::Small(a), Kind::Small(b)) if with_local(|l| l.resize_on_top(ptr, a, b)) => ptr,
            (Kind::Large(a), Kind::Large(b)) if ARENA.lock().resize_on_top(ptr, a, b) => ptr,
            // SAFETY: both System's; the caller's contract, passed on.
            (Kind::System, Kind::System) => unsafe { System.realloc(ptr, layout, new_size) },
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
        // (Small classes only: the large classes' lists are shared with the tests running
        // beside this one.)
        for &(p, l, _) in freed.iter().rev().take(20) {
            if matches!(kind(l), Kind::Small(_)) {
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
    fn layouts_find_the_smallest_class_that_holds_them() {
        assert_eq!(kind(layout(64, 32)), Kind::System);
        assert_eq!(kind(layout(MAX_LARGE + 1, 8)), Kind::System);
        assert_eq!(kind(layout(MAX_SMALL, 16)), Kind::Small(CLASSES - 1));
        assert_eq!(class_size(CLASSES - 1), MAX_SMALL);
        assert_eq!(kind(layout(MAX_SMALL + 1, 16)), Kind::Large(0));
        assert_eq!(kind(layout(MAX_LARGE, 16)), Kind::Large(LARGE_CLASSES - 1));
        assert_eq!(large_size(LARGE_CLASSES - 1), MAX_LARGE);
        let sizes = [
            1, 15, 16, 17, 1000, 1024, 1025, 2047, 2048, 2049, 4096, 70_000,
        ];
        for size in sizes.into_iter().chain([MAX_LARGE - 1, MAX_LARGE]) {
            let (c, block): (usize, fn(usize) -> usize) = match kind(layout(size, 8)) {
                Kind::Small(c) if size <= MAX_SMALL => (c, class_size),
                Kind::Large(c) if size > MAX_SMALL => (c, large_size),
                other => panic!("{size} is served from {other:?}"),
            };
            assert!(block(c) >= size, "class {c} holds {size}");
            assert!(
                c == 0 || block(c - 1) < size,
                "{size} is in the smallest class of its kind that holds it"
            );
        }
        assert_eq!(kind(layout(1, 1)), Kind::Small(0));
        assert_eq!(kind(layout(17, 1)), Kind::Small(1));
        let a = Amalloc;
        let l = layout(4096, 4096);
        let p = unsafe { a.alloc(l) };
        assert_eq!(p as usize % 4096, 0);
        unsafe { a.dealloc(p, l) };
    }

    /// An arena of its own, so that no other test carves from it in between.
    fn arena(first_segment: usize) -> Arena {
        Arena {
            next: null_mut(),
            end: null_mut(),
            start: null_mut(),
            grow: first_segment,
            free: [null_mut(); LARGE_CLASSES],
        }
    }

    #[test]
    fn the_large_block_carved_last_grows_shrinks_and_is_freed_in_place() {
        let mut a = arena(1 << 20);
        let p = a.take(0);
        fill(p, large_size(0), 1);
        assert!(a.resize_on_top(p, 0, 3), "grows where it is");
        assert!(
            holds(p, large_size(0), 1),
            "growing in place keeps the bytes"
        );
        fill(p, large_size(3), 2);
        let q = a.take(1);
        assert_eq!(
            q.addr(),
            p.addr() + large_size(3),
            "carved after the grown block"
        );
        assert!(!a.resize_on_top(p, 3, 4), "p is no longer the last block");
        assert!(holds(p, large_size(3), 2));
        a.give(1, q);
        assert_eq!(a.next, q, "the last block goes back to the top");
        assert!(a.free[1].is_null());
        assert!(
            a.resize_on_top(p, 3, 2),
            "shrinks where it is, on top again"
        );
        assert_eq!(a.next.addr(), p.addr() + large_size(2));
        a.give(2, p);
        assert_eq!(a.next, p);
        // A block below the top goes onto its class's list and is the next one taken.
        let x = a.take(2);
        let y = a.take(2);
        a.give(2, x);
        assert_eq!(a.free[2], x);
        assert_eq!(a.take(2), x);
        assert!(a.free[2].is_null());
        assert_ne!(x, y);
        // On top, but the segment (1 MiB) has no room for 1 MiB more: it stays as it is.
        assert!(a.on_top(y, large_size(2)));
        assert!(!a.resize_on_top(y, 2, LARGE_CLASSES - 1));
        assert_eq!(a.next.addr(), y.addr() + large_size(2));
        assert!(a.resize_on_top(y, 2, 3));
    }

    #[test]
    fn a_full_segment_is_followed_by_a_larger_one() {
        let mut a = arena(1 << 20);
        let first = a.carve(CHUNK);
        assert!(!first.is_null() && first == a.start);
        while a.room(a.next) >= CHUNK {
            a.carve(CHUNK);
        }
        let (old_start, old_end) = (a.start.addr(), a.end.addr());
        let p = a.carve(CHUNK);
        assert_eq!(p, a.start, "a new segment");
        assert!(
            p.addr() + CHUNK <= old_start || p.addr() >= old_end,
            "apart from the old one"
        );
        assert_eq!(a.end.addr() - a.start.addr(), 2 << 20, "twice the first");
        // The block carved last in the old segment is not on top any more, even should the
        // new segment start right where it ends.
        let last_old = first.with_addr(old_end - CHUNK);
        assert!(!a.on_top(last_old, CHUNK));
        // A block larger than the next segment would be gets a segment of its own size.
        let big = a.carve(8 << 20);
        assert_eq!(big, a.start);
        assert_eq!(a.end.addr() - a.start.addr(), 8 << 20);
        fill(big, 8 << 20, 3);
        assert!(holds(big, 8 << 20, 3));
        fill(first, CHUNK, 4);
        assert!(holds(first, CHUNK, 4), "old segments stay mapped");
    }

    #[test]
    fn realloc_keeps_contents_across_classes_and_the_system() {
        let a = Amalloc;
        let mut l = layout(3, 8);
        let mut p = unsafe { a.alloc(l) };
        fill(p, 3, 7);
        // Grow through small and large classes into the system allocator and back down.
        for size in [
            9,
            16,
            17,
            200,
            1024,
            1025,
            2048,
            70_000,
            MAX_LARGE + 1,
            2000,
            1024,
            40,
            3,
        ] {
            let keep = l.size().min(size);
            let q = unsafe { a.realloc(p, l, size) };
            assert!(!q.is_null());
            assert!(
                holds(q, keep, 7),
                "realloc {} -> {size} lost data",
                l.size()
            );
            if kind(l) != Kind::System && kind(l) == kind(layout(size, 8)) {
                assert_eq!(q, p, "a realloc within the class stays in place");
            }
            l = layout(size, 8);
            p = q;
            fill(p, size, 7);
        }
        unsafe { a.dealloc(p, l) };
    }

    #[test]
    fn the_small_block_bumped_last_grows_in_place() {
        // This test's thread has a bump region of its own: nothing else allocates from it.
        let a = Amalloc;
        let p = unsafe { a.alloc(layout(40, 8)) };
        fill(p, 40, 5);
        let q = unsafe { a.realloc(p, layout(40, 8), 300) };
        assert_eq!(q, p, "the last block bumped grows where it is");
        assert!(holds(q, 40, 5));
        fill(q, 300, 6);
        let r = unsafe { a.alloc(layout(16, 8)) };
        let moved = unsafe { a.realloc(q, layout(300, 8), 600) };
        assert_ne!(moved, q, "a block below the top moves");
        assert!(holds(moved, 300, 6));
        unsafe {
            a.dealloc(moved, layout(600, 8));
            a.dealloc(r, layout(16, 8));
        }
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
