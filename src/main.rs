//! The amctl binary: parse arguments, call the library, map errors to exit codes.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = e
                .downcast_ref::<amctl::Error>()
                .map(amctl::Error::exit_code)
                .unwrap_or(amctl::Exit::Input);
            eprintln!("error: {e:#}");
            code
        }
    };
    code.into()
}
