use clap::Parser;

use activation_atlas::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    activation_atlas::engine::memory::keep_freed_tensor_memory();
    let cli = Cli::parse();
    // Kept to the end of main: dropping it flushes the log file.
    let _log = activation_atlas::logging::init();
    let result = match cli.command {
        None => activation_atlas::app::run_app(activation_atlas::app::AppOptions::default()),
        Some(Command::Gui { image, data, atlas, place, timeline }) => {
            let start = activation_atlas::app::AppOptions { image, data_dir: data, atlas, place, timeline, ..Default::default() };
            activation_atlas::app::run_app(start)
        }
        Some(command) => {
            activation_atlas::engine::precision::set_precision(cli.precision);
            activation_atlas::cli::run(command, cli.json)
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Stopped by Ctrl-C: whatever the command was doing reports itself as cancelled.
        Err(_) if activation_atlas::cli::interrupted() => {
            eprintln!("cancelled");
            std::process::ExitCode::from(activation_atlas::cli::INTERRUPTED_EXIT_CODE)
        }
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
