//! The amctl binary: parse arguments, call the library, map errors to exit codes.
// On Linux with glibc the process starts at `start::main`, not through std's runtime start-up:
// see there. (Not in the unit-test build, whose entry is the test harness.)
#![cfg_attr(all(target_os = "linux", target_env = "gnu", not(test)), no_main)]

mod cli;

use clap::Parser;

#[global_allocator]
static ALLOC: amctl::alloc::Amalloc = amctl::alloc::Amalloc;

/// Parses the arguments, runs the command and returns the process's exit code.
fn run() -> u8 {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli::run(cli) {
        Ok(code) => code as u8,
        Err(e) => {
            let code = e
                .downcast_ref::<amctl::Error>()
                .map(amctl::Error::exit_code)
                .unwrap_or(amctl::exit::INPUT);
            eprintln!("error: {e:#}");
            code as u8
        }
    }
}

#[cfg(any(not(all(target_os = "linux", target_env = "gnu")), test))]
fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(run())
}

/// The process entry on Linux with glibc, in place of std's runtime start-up.
///
/// Before `fn main`, std reads `/proc/self/maps` (through `pthread_getattr_np`) to find the
/// main thread's stack, maps an alternate signal stack and installs SIGSEGV/SIGBUS handlers,
/// all to print "has overflowed its stack" instead of a plain segmentation fault. That cost
/// ~0.1 ms per process here (a static hello-world: 0.76 ms with it, 0.66 ms without), about 3%
/// of a `render prod`; a stack overflow still ends the process, without that message. What
/// std does there that amctl relies on is done here the same way: fds 0-2 are reopened on
/// /dev/null when the process starts with one closed (so a file amctl opens never becomes its
/// stdout), and SIGPIPE is ignored (so a closed pipe is a `BrokenPipe` error that the output
/// code ends quietly on, not a kill). `std::env::args` needs
/// nothing here: on glibc std captures the arguments itself, before `main` (an `.init_array`
/// hook). Other C libraries (musl) do not pass them to such hooks, so there std's start-up stays.
#[cfg(all(target_os = "linux", target_env = "gnu", not(test)))]
mod start {
    use std::ffi::{c_char, c_int};

    #[unsafe(no_mangle)]
    extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        // SAFETY: `fds` is a valid array of three pollfd structs for the call's duration.
        if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } != -1 {
            for pfd in &fds {
                // open(2) returns the lowest free descriptor: the closed one.
                // SAFETY: a NUL-terminated path and plain flags.
                if pfd.revents & libc::POLLNVAL != 0
                    && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1
                {
                    std::process::abort();
                }
            }
        }
        // SAFETY: SIG_IGN for SIGPIPE, before any other thread exists.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        // A panic exits with 101 and its message, as under std's runtime (with `panic = "abort"`,
        // as in `cargo dist`, it aborts where it happens).
        let code = std::panic::catch_unwind(super::run).unwrap_or(101);
        // Flushes stdout, as std's runtime does after `fn main` returns.
        std::process::exit(c_int::from(code))
    }
}
