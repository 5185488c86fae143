use clap::Parser;

use activation_atlas::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => activation_atlas::app::run_app(None),
        Some(Command::Gui { image }) => activation_atlas::app::run_app(image),
        Some(command) => activation_atlas::cli::run(command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
