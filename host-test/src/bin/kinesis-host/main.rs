//! `kinesis-host`: runs the kinesis-target component over events read from a
//! file or stdin. Exit codes: 0 every event delivered, 1 some failed, 2 bad
//! config or unreadable input.

mod demo;
mod input;
mod summary;

use clap::{Parser, Subcommand, ValueEnum};
use input::{Input, InputFormat};
use kinesis_host::config_file::{self, TargetDef};
use kinesis_host::{Grants, KinesisRuntime, OutboundPolicy, RuntimeOptions, Tenant};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "kinesis-host",
    version,
    about = "Ship log events to Amazon Kinesis through the kinesis-target component"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Push events from the input through each target, flush, print a summary.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Config file (YAML or JSON): a `targets:` list or one target. Without
    /// it, events go to an embedded local Kinesis endpoint (a demo).
    #[arg(long, value_name = "FILE")]
    config: Option<String>,
    /// Run only the targets with these names (repeatable).
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// Events, one per line; `-` is stdin.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    input: String,
    /// How a line becomes an event.
    #[arg(long, value_enum, default_value_t = InputFormat::Lines)]
    input_format: InputFormat,
    /// `text` for people, `json` for one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    report: ReportFormat,
    /// Events per `push` call, at most (fewer where the input pauses).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    chunk_size: u32,
    /// A component file to run instead of the embedded one.
    #[arg(long, value_name = "FILE")]
    component: Option<String>,
    /// Give the targets none of this process's AWS_* variables (by default
    /// the credential chain's variables and token-file directories are passed
    /// through, read-only).
    #[arg(long)]
    no_aws_env: bool,
    /// Linear memory each target's instance may use, in MiB; past it the
    /// instance stops and its events fail with MemoryLimitExceeded.
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    memory_limit_mb: u32,
    /// Time one call into a target may take (push, poll beyond its wait), in
    /// seconds; past it the instance stops (CallBudgetExceeded).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=86400))]
    call_budget_s: u32,
    /// Time a flush may take, in seconds (it waits on the network and retries).
    #[arg(long, value_name = "SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=86400))]
    flush_budget_s: u32,
    /// Also let targets reach this authority (host[:port], repeatable); by
    /// default a target reaches only its endpoint and its credential provider.
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    allow_hosts: Vec<String>,
    /// Let targets reach only these authorities (host[:port], repeatable): a
    /// target configured to send elsewhere gets HttpRequestDenied. The list
    /// to use when the configs come from tenants.
    #[arg(long = "only-host", value_name = "HOST[:PORT]", conflicts_with = "allow_hosts")]
    only_hosts: Vec<String>,
    /// Let targets reach any host (trusted single-tenant use only).
    #[arg(long, conflicts_with_all = ["allow_hosts", "only_hosts"])]
    allow_any_host: bool,
    /// A PEM file of CA certificates to trust for https besides the platform's.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<std::path::PathBuf>,
    /// Use wasmtime's pooling allocator with slots for this many instances
    /// (hosts with many targets).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pooling: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Text,
    Json,
}

/// Longest the CLI leaves a target with work in progress unpolled while input is quiet.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// Exit code for bad config or unreadable input.
const EXIT_USAGE: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let Command::Run(args) = Cli::parse().command;
    match run(args).await {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("kinesis-host: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

async fn run(args: RunArgs) -> Result<u8, String> {
    let options = RuntimeOptions {
        memory_limit: (args.memory_limit_mb as usize) << 20,
        call_budget: Duration::from_secs(args.call_budget_s.into()),
        flush_budget: Duration::from_secs(args.flush_budget_s.into()),
        pooling: args.pooling,
        outbound: if args.allow_any_host {
            OutboundPolicy::Any
        } else if !args.only_hosts.is_empty() {
            OutboundPolicy::Only(args.only_hosts.clone())
        } else if !args.allow_hosts.is_empty() {
            OutboundPolicy::AlsoAllow(args.allow_hosts.clone())
        } else {
            OutboundPolicy::ConfiguredEndpoints
        },
        extra_ca: args.ca_file.clone(),
        answerer: None,
    };
    let runtime = match &args.component {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read component {path}: {e}"))?;
            KinesisRuntime::with_options(&bytes, options)
        }
        None => KinesisRuntime::with_options(kinesis_host::runtime::EMBEDDED_COMPONENT, options),
    }
    .map_err(|e| format!("cannot load the component: {e:#}"))?;

    let mut demo = None;
    let defs = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read config {path}: {e}"))?;
            config_file::parse(&text, |v| std::env::var(v).ok()).map_err(|e| format!("config {path}: {e}"))?
        }
        None => {
            let d = demo::Demo::start()
                .await
                .map_err(|e| format!("cannot start the local endpoint: {e:#}"))?;
            let defs = vec![d.target()];
            demo = Some(d);
            defs
        }
    };
    // The demo's target carries its own key: the host's AWS_* variables
    // (AWS_ENDPOINT_URL, say) must not send it elsewhere.
    let grants = if args.no_aws_env || demo.is_some() {
        Grants::default()
    } else {
        Grants::credential_chain_from_env()
    };
    let defs = select(defs, &args.targets)?;
    let crons: Vec<Option<String>> = defs.iter().map(cron_of).collect();
    let mut tenants = start_tenants(&runtime, defs, &grants).await?;

    let mut rx = input::spawn(args.input.clone(), args.input_format, args.chunk_size as usize)?;
    let progress = progress_bar(args.report);
    let started = Instant::now();
    let (mut lines, mut skipped, mut input_error) = (0, 0, None);
    loop {
        // While input is quiet, let targets collect answers and start due
        // retries; an answer can come any moment, so look at least every IDLE_POLL.
        let wake = tenants.iter().filter_map(Tenant::poll_after).min();
        let message = match wake {
            Some(after) => tokio::select! {
                message = rx.recv() => message,
                () = tokio::time::sleep(after.min(IDLE_POLL)) => {
                    for tenant in tenants.iter_mut().filter(|t| t.poll_after().is_some()) {
                        tenant.poll(Duration::ZERO).await;
                    }
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(message) = message else { break };
        match message {
            Input::Events(events) => {
                for tenant in &mut tenants {
                    tenant.push(&events).await;
                }
                progress.inc(events.len() as u64);
            }
            Input::End { lines: l, skipped: s } => (lines, skipped) = (l, s),
            Input::Error(e) => input_error = Some(e),
        }
    }
    let mut stats = Vec::with_capacity(tenants.len());
    for tenant in &mut tenants {
        tenant.flush().await;
        stats.push(tenant.stats().await);
    }
    progress.finish_and_clear();

    let summary = summary::Summary::new(&tenants, stats, &crons, lines, skipped, started.elapsed());
    match args.report {
        ReportFormat::Json => println!("{}", serde_json::to_string(&summary).unwrap_or_default()),
        ReportFormat::Text => summary.print_text(),
    }
    if let Some(d) = demo {
        if args.report == ReportFormat::Text {
            d.show_arrivals();
        }
        d.stop().await;
    }
    match input_error {
        Some(e) => Err(format!("{e} (events before it were flushed and are in the summary)")),
        None => Ok(summary.exit_code() as u8),
    }
}

/// Keeps the targets this host runs: `amazonkinesis`, and the named ones.
fn select(defs: Vec<TargetDef>, names: &[String]) -> Result<Vec<TargetDef>, String> {
    for name in names {
        if !defs.iter().any(|d| &d.name == name) {
            return Err(format!("--target {name}: no target of that name in the config"));
        }
    }
    let chosen: Vec<TargetDef> = defs
        .into_iter()
        .filter(|d| names.is_empty() || names.contains(&d.name))
        .filter(|d| {
            let ours = d.kind == "amazonkinesis";
            if !ours {
                eprintln!(
                    "kinesis-host: skipping target {} of type {} (this host runs amazonkinesis targets)",
                    d.name, d.kind
                );
            }
            ours
        })
        .collect();
    if chosen.is_empty() {
        return Err("no amazonkinesis target to run in the config".into());
    }
    Ok(chosen)
}

/// A target's `cron` (with its `cron_utc_offset`), for the summary: the
/// component reports intervals, not cron expressions.
fn cron_of(def: &TargetDef) -> Option<String> {
    let props = def.definition.get("properties")?;
    let cron = props.get("cron")?.as_str().map(str::trim).filter(|c| !c.is_empty())?;
    let offset = props.get("cron_utc_offset").and_then(|o| o.as_str()).unwrap_or("Z");
    Some(format!("{cron} (UTC offset {offset})"))
}

async fn start_tenants(runtime: &KinesisRuntime, defs: Vec<TargetDef>, grants: &Grants) -> Result<Vec<Tenant>, String> {
    let mut tenants = Vec::with_capacity(defs.len());
    for def in defs {
        let json = def.definition.to_string();
        match Tenant::start_with(runtime, &json, grants).await {
            Ok(Ok(tenant)) => {
                if !tenant.info.enabled {
                    eprintln!(
                        "kinesis-host: target {} is disabled (status: false): it sends nothing, every event comes back failed with TargetDisabled",
                        tenant.info.name
                    );
                }
                tenants.push(tenant)
            }
            Ok(Err(e)) => {
                return Err(format!(
                    "config error in target {:?} (targets[{}]): {}: {}",
                    def.name, def.index, e.field, e.message
                ));
            }
            Err(e) => return Err(format!("target {:?}: the component failed to start: {e:#}", def.name)),
        }
    }
    Ok(tenants)
}

/// A progress bar on stderr when it is a terminal and the report is for people.
fn progress_bar(report: ReportFormat) -> indicatif::ProgressBar {
    if report == ReportFormat::Json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} events pushed ({per_sec}) {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
