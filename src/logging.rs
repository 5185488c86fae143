//! Logging for the window and the command line: the app's own events and what its libraries
//! (eframe, wgpu, rfd, umap-rs) report through `log` or `tracing`, into a daily log file under the
//! XDG state folder (a week of files kept), and to the terminal where one asks with `RUST_LOG`.

use std::path::PathBuf;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// What is logged when `RUST_LOG` does not say: the app's information, other crates' warnings.
const DEFAULT_FILTER: &str = "warn,activation_atlas=info";
/// Daily files kept.
const KEPT_LOG_FILES: usize = 7;

/// `$XDG_STATE_HOME/activation-atlas/logs`, else `~/.local/state/activation-atlas/logs`.
pub fn log_dir() -> PathBuf {
    crate::resources::xdg_app_dir("XDG_STATE_HOME", ".local/state").join("logs")
}

/// Keeps the log file's writer thread alive; dropping it flushes what is left.
pub struct LogGuard {
    _writer: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Starts logging once per process. A log folder that cannot be made only loses the file; the
/// terminal output (with `RUST_LOG`) still works.
pub fn init() -> LogGuard {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let dir = log_dir();
    // Made first: the appender reads the folder to prune old files and complains if it is missing.
    let _ = std::fs::create_dir_all(&dir);
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("activation-atlas")
        .filename_suffix("log")
        .max_log_files(KEPT_LOG_FILES)
        .build(&dir);
    let (file_layer, guard) = match appender {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(false).with_filter(filter());
            (Some(layer), Some(guard))
        }
        Err(_) => (None, None),
    };
    // The terminal gets the log only when asked, so command output stays as documented.
    let terminal_layer = std::env::var_os("RUST_LOG").is_some().then(|| {
        let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(colours).with_filter(filter())
    });
    // `try_init` also routes the `log` records of eframe, rfd and umap-rs into tracing.
    let _ = tracing_subscriber::registry().with(file_layer).with(terminal_layer).try_init();
    LogGuard { _writer: guard }
}
