//! `faastwin plan`: the cheapest configuration that meets a deadline, and each platform's
//! frontier of cost against time.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use faastwin_sim::Scenario;
use faastwin_sim::plan::{Candidate, Deadline, Plan, PlanRun, PlanSpace, plan, simulations};

use crate::cli::{OutputFormat, PlanArgs};
use crate::progress;

pub(crate) fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario)
        .with_context(|| format!("cannot load scenario {}", args.scenario.display()))?;
    if !scenario.file.sweep.is_empty() {
        eprintln!(
            "note: this scenario has a sweep grid; the plan searches nodes, partitions per node and windows instead"
        );
    }
    let space = PlanSpace {
        nodes: args.nodes.clone(),
        partitions_per_node: args.partitions_per_node.clone(),
        windows: args.windows.clone(),
    };
    let deadline = Deadline {
        seconds: args.deadline,
        probability: args.probability,
    };
    let run = PlanRun {
        seed: args.seed.unwrap_or(scenario.file.seed),
        replications: args.replications.unwrap_or(scenario.file.replications),
        threads: crate::simulate::threads(args.threads),
    };
    if !args.batch_sizes.is_empty() {
        return batch_sizes(&scenario, &space, deadline, run, &args.batch_sizes);
    }
    let started = std::time::Instant::now();
    let plan = if args.slurm {
        match on_slurm(&args, &scenario, &space, deadline, run)? {
            Some(plan) => plan,
            None => return Ok(ExitCode::from(1)),
        }
    } else {
        let bar = progress::items(
            simulations(&scenario, &space, run.replications) as u64,
            "planning",
        );
        let plan = plan(&scenario, &space, deadline, run, &|| bar.inc(1))
            .with_context(|| format!("cannot plan {}", args.scenario.display()))?;
        bar.finish_and_clear();
        plan
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Table => {
            write_table(&mut out, &scenario, &plan)?;
            writeln!(
                out,
                "\n{} configurations simulated in {:.2} s",
                plan.candidates.len(),
                started.elapsed().as_secs_f64()
            )?;
        }
        OutputFormat::Csv => write_csv(&mut out, &plan)?,
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &plan)?;
            writeln!(out)?;
        }
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = dir.join("plan.json");
        std::fs::write(&json, serde_json::to_vec_pretty(&plan)?)
            .with_context(|| format!("writing {}", json.display()))?;
        let svg = faastwin_report::plan_figure(&plan, dir)?;
        eprintln!("wrote {} and {}", json.display(), svg.display());
    }
    Ok(if plan.choice.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The plan's search run as a Slurm job array in `--out` (or, when that folder already holds
/// every chunk of this very search, read from there); `None` when tasks failed (said, with how
/// to resubmit them).
fn on_slurm(
    args: &PlanArgs,
    scenario: &Scenario,
    space: &PlanSpace,
    deadline: Deadline,
    run: PlanRun,
) -> anyhow::Result<Option<Plan>> {
    use faastwin_sim::sweep::{
        ArrayOptions, ArrayOutcome, SweepMeta, SweepPlan, prepare_array, read_chunk, submit_array,
    };
    let out = std::path::absolute(args.out.as_deref().context("--slurm needs --out DIR")?)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let base = std::path::absolute(&args.scenario)?
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let text = faastwin_sim::plan::search_file(scenario, space, deadline, &base)?;
    let path = out.join("plan-scenario.toml");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    let sweep = SweepPlan::load(&path, Some(run.seed), Some(run.replications))
        .with_context(|| format!("cannot load the plan's search {}", path.display()))?;
    let chunks = |meta: &SweepMeta| -> Option<Vec<_>> {
        (0..meta.chunks)
            .map(|i| read_chunk(&out.join("chunks"), i, &sweep.hash))
            .collect()
    };
    let done = SweepMeta::read(&out)
        .ok()
        .filter(|m| m.scenario_hash == sweep.hash)
        .and_then(|m| chunks(&m));
    let files = match done {
        Some(files) => {
            eprintln!(
                "every chunk of this search is in {}: planning from them",
                out.display()
            );
            files
        }
        None => {
            let exe = std::env::current_exe().context("cannot locate the faastwin executable")?;
            let options = ArrayOptions {
                partition: args.array.partition.clone(),
                time: args.array.time.clone(),
            };
            let (meta, script) = prepare_array(&sweep, &out, args.array.array_size, &exe, &options);
            let slurm = crate::simulate::Slurm::new()?;
            let outcome = submit_array(
                &sweep,
                &out,
                meta.chunks,
                &script,
                &args.array.sbatch_args,
                &slurm,
                &crate::simulate::array_bar(),
            )?;
            if let ArrayOutcome::Failed(..) = outcome {
                crate::simulate::report_array(outcome, &out)?;
                return Ok(None);
            }
            let meta = SweepMeta::read(&out)?;
            chunks(&meta).context("the array ended but a chunk is missing")?
        }
    };
    let results = sweep.merge(&files)?;
    Ok(Some(faastwin_sim::plan::evaluate(
        &sweep.scenario,
        &results,
        deadline,
    )?))
}

/// Plans `sizes` invocations of `scenario`'s workload each and prints, per batch size, each
/// platform's cheapest configuration that meets the deadline, then from which batch size on
/// each platform is the cheapest.
fn batch_sizes(
    scenario: &Scenario,
    space: &PlanSpace,
    deadline: Deadline,
    run: PlanRun,
    sizes: &[u64],
) -> anyhow::Result<ExitCode> {
    let platforms = &scenario.file.platforms;
    let per_size = simulations(scenario, space, run.replications) as u64;
    let bar = progress::items(per_size * sizes.len() as u64, "planning");
    let mut out = std::io::stdout().lock();
    let unit = unit(deadline.seconds);
    writeln!(
        out,
        "cheapest configuration of each platform that ends within {} of booking with probability >= {} ({} invocations, {})\n",
        duration(deadline.seconds, unit),
        deadline.probability,
        scenario.workload.body,
        scenario.workload.policy.describe()
    )?;
    write!(out, "{:>12}", "invocations")?;
    for p in platforms {
        write!(out, "  {:<40}", format!("{p}: configuration, node-hours"))?;
    }
    writeln!(out, "  cheapest")?;
    let mut winners = Vec::new();
    for &size in sizes {
        let mut sized = scenario.clone();
        sized.workload.invocations = size;
        let plan = plan(&sized, space, deadline, run, &|| bar.inc(1))
            .with_context(|| format!("planning {size} invocations"))?;
        write!(out, "{size:>12}")?;
        let mut best: Option<&Candidate> = None;
        for p in platforms {
            let cell = match plan.cheapest(p) {
                Some(c) => {
                    if best.is_none_or(|b| c.node_hours < b.node_hours) {
                        best = Some(c);
                    }
                    format!(
                        "{} x {} partitions, {}",
                        c.nodes,
                        c.partitions,
                        hours(c.node_hours)
                    )
                }
                None => "misses the deadline".to_owned(),
            };
            write!(out, "  {cell:<40}")?;
        }
        let winner = best.map_or("none".to_owned(), |c| c.platform.clone());
        writeln!(out, "  {winner}")?;
        winners.push((size, winner));
    }
    bar.finish_and_clear();
    writeln!(out)?;
    for p in platforms {
        writeln!(out, "{p} is the cheapest {}", where_cheapest(&winners, p))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `platform` wins among `winners` (batch size, cheapest platform), in words: from a
/// size on, up to one, at some, or at none.
fn where_cheapest(winners: &[(u64, String)], platform: &str) -> String {
    let wins: Vec<usize> = (0..winners.len())
        .filter(|&i| winners[i].1 == platform)
        .collect();
    let (Some(&first), Some(&last)) = (wins.first(), wins.last()) else {
        return "at none of the batch sizes planned".to_owned();
    };
    let contiguous = last - first + 1 == wins.len();
    if contiguous && last == winners.len() - 1 {
        format!(
            "from {} invocations on (of the sizes planned)",
            winners[first].0
        )
    } else if contiguous && first == 0 {
        format!("up to {} invocations", winners[last].0)
    } else {
        let sizes: Vec<String> = wins.iter().map(|&i| winners[i].0.to_string()).collect();
        format!("at {} invocations", sizes.join(", "))
    }
}

/// The unit a plan's times are shown in: seconds, minutes or hours, whichever reads best for
/// its deadline (one unit for the whole table).
fn unit(deadline_s: f64) -> (&'static str, f64) {
    if deadline_s < 120.0 {
        ("s", 1.0)
    } else if deadline_s < 7200.0 {
        ("min", 60.0)
    } else {
        ("h", 3600.0)
    }
}

/// `s` in `unit`, with it.
fn duration(s: f64, (name, scale): (&str, f64)) -> String {
    format!("{:.2} {name}", s / scale)
}

/// `ksi on 2 nodes, 8 partitions, window 2`.
fn configuration(c: &Candidate) -> String {
    let nodes = if c.nodes == 1 { "node" } else { "nodes" };
    let window = c.window.map_or(String::new(), |w| format!(", window {w}"));
    format!(
        "{} on {} {nodes}, {} partitions{window}",
        c.platform, c.nodes, c.partitions
    )
}

/// Node-hours with three significant digits (0.00312, 1.25, 312).
fn hours(v: f64) -> String {
    if v > 0.0 && v < 100.0 {
        let decimals = (2 - v.log10().floor() as i32).clamp(0, 9) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.0}")
    }
}

fn percentile(p: f64) -> String {
    format!("{:.0}th percentile", 100.0 * p)
}

fn write_table(out: &mut dyn Write, scenario: &Scenario, plan: &Plan) -> std::io::Result<()> {
    let w = &scenario.workload;
    let unit = unit(plan.deadline_s);
    writeln!(
        out,
        "plan: {} {} invocations ({}), input {:.0} B, on {}",
        w.invocations,
        w.body,
        w.policy.describe(),
        w.input_bytes.mean(),
        scenario.file.platforms.join(", ")
    )?;
    writeln!(
        out,
        "deadline: {} after booking, with probability >= {}",
        duration(plan.deadline_s, unit),
        plan.probability
    )?;
    writeln!(
        out,
        "cost: node-hours, nodes x the mean predicted time from booking to the last completion (startup included)\n"
    )?;
    match plan.choice {
        Some(i) => {
            let c = &plan.candidates[i];
            writeln!(
                out,
                "choice:    {}: {} {} (median {}), on time with probability {:.2}, {} node-hours",
                configuration(c),
                percentile(plan.probability),
                duration(c.time_s, unit),
                duration(c.median_time_s, unit),
                c.chance,
                hours(c.node_hours)
            )?;
        }
        None => {
            let best = plan.candidates.iter().max_by(|a, b| {
                a.chance
                    .total_cmp(&b.chance)
                    .then(b.time_s.total_cmp(&a.time_s))
            });
            writeln!(out, "choice:    none meets the deadline")?;
            if let Some(c) = best {
                writeln!(
                    out,
                    "closest:   {}: on time with probability {:.2}, {} {}",
                    configuration(c),
                    c.chance,
                    percentile(plan.probability),
                    duration(c.time_s, unit)
                )?;
            }
        }
    }
    if let (Some(choice), Some(i)) = (plan.choice, plan.runner_up) {
        let (c, first) = (&plan.candidates[i], &plan.candidates[choice]);
        writeln!(
            out,
            "runner-up: {}: {} {}, {} node-hours ({:+.1} %)",
            configuration(c),
            percentile(plan.probability),
            duration(c.time_s, unit),
            hours(c.node_hours),
            100.0 * (c.node_hours / first.node_hours - 1.0)
        )?;
    }
    writeln!(
        out,
        "\nfrontier of each platform (cheapest first, each at least 1 % faster than every cheaper one; * meets the deadline)"
    )?;
    writeln!(
        out,
        "  {:<8} {:>5} {:>10} {:>6} {:>14} {:>14} {:>10} {:>11}",
        "platform",
        "nodes",
        "partitions",
        "window",
        format!("p{:.0} [{}]", 100.0 * plan.probability, unit.0),
        format!("median [{}]", unit.0),
        "P(on time)",
        "node-hours"
    )?;
    for i in plan.frontier() {
        let c = &plan.candidates[i];
        writeln!(
            out,
            "{} {:<8} {:>5} {:>10} {:>6} {:>14} {:>14} {:>10.2} {:>11}",
            if c.meets { "*" } else { " " },
            c.platform,
            c.nodes,
            c.partitions,
            c.window.map_or("-".to_owned(), |w| w.to_string()),
            format!("{:.2}", c.time_s / unit.1),
            format!("{:.2}", c.median_time_s / unit.1),
            c.chance,
            hours(c.node_hours)
        )?;
    }
    Ok(())
}

fn write_csv(out: &mut dyn Write, plan: &Plan) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "platform",
        "nodes",
        "partitions",
        "window",
        "time_s",
        "median_time_s",
        "chance",
        "node_hours",
        "meets",
        "choice",
        "frontier",
    ])?;
    let frontier = plan.frontier();
    for (i, c) in plan.candidates.iter().enumerate() {
        w.write_record([
            c.platform.clone(),
            c.nodes.to_string(),
            c.partitions.to_string(),
            c.window.map_or(String::new(), |w| w.to_string()),
            c.time_s.to_string(),
            c.median_time_s.to_string(),
            c.chance.to_string(),
            c.node_hours.to_string(),
            c.meets.to_string(),
            (plan.choice == Some(i)).to_string(),
            frontier.contains(&i).to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn where_a_platform_is_cheapest_is_said_as_a_range() {
        let winners: Vec<(u64, String)> = [(16, "k3s"), (64, "k3s"), (256, "ksi"), (1024, "ksi")]
            .iter()
            .map(|(n, p)| (*n, (*p).to_owned()))
            .collect();
        assert_eq!(
            super::where_cheapest(&winners, "ksi"),
            "from 256 invocations on (of the sizes planned)"
        );
        assert_eq!(
            super::where_cheapest(&winners, "k3s"),
            "up to 64 invocations"
        );
        assert_eq!(
            super::where_cheapest(&winners, "slurm"),
            "at none of the batch sizes planned"
        );
        let mixed = [winners[0].clone(), winners[2].clone(), winners[1].clone()];
        assert_eq!(
            super::where_cheapest(&mixed, "k3s"),
            "at 16, 64 invocations"
        );
    }

    #[test]
    fn node_hours_keep_three_significant_digits() {
        assert_eq!(super::hours(0.003_123), "0.00312");
        assert_eq!(super::hours(1.254), "1.25");
        assert_eq!(super::hours(31.26), "31.3");
        assert_eq!(super::hours(312.4), "312");
        assert_eq!(super::hours(0.0), "0");
    }
}
