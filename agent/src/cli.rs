//! Command line: `run`, `validate`, `ctl`.

use std::process::ExitCode;

pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
