//! Progress bars on stderr, drawn only when stderr is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn bar(total: u64, message: &str, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), draw_target());
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_message(message.to_owned());
    bar
}

/// A progress bar over `total` bytes.
pub(crate) fn bytes(total: u64, message: &str) -> ProgressBar {
    let template =
        "{msg} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, eta {eta})";
    bar(total, message, template)
}

/// A progress bar over `total` items.
pub(crate) fn items(total: u64, message: &str) -> ProgressBar {
    bar(total, message, "{msg} [{bar:40}] {pos}/{len} (eta {eta})")
}

pub(crate) fn draw_target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}
