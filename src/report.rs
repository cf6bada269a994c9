//! `faastwin report`: figures and one self-contained HTML page from the tool's outputs.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::ReportArgs;

pub(crate) fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let inputs = args
        .inputs
        .iter()
        .map(|p| faastwin_report::inputs::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let output = faastwin_report::build(&inputs, &args.out)
        .with_context(|| format!("writing the report into {}", args.out.display()))?;
    for warning in &output.warnings {
        eprintln!("warning: {warning}");
    }
    eprintln!(
        "wrote {} figures (SVG and PNG) and {} from {} input(s)",
        output.figures.len(),
        output.html.display(),
        inputs.len()
    );
    Ok(ExitCode::SUCCESS)
}
