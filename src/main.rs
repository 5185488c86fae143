use clap::Parser;

use activation_atlas::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => activation_atlas::app::run_app(None, None),
        Some(Command::Gui { image, data }) => activation_atlas::app::run_app(image, data),
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
