//! `kinesis-host`: runs the kinesis-target component over events read from a
//! file or stdin. Exit codes: 0 every event delivered, 1 some failed, 2 bad
//! config or unreadable input.
//!
//! SIGTERM or SIGINT stops it gracefully (no more input is read, every
//! target is flushed, the report is printed), a second one at once. With a
//! checkpoint a run resumes where the last one left off; with dead letters
//! every event that failed for good is kept, replayable; `--follow` reads a
//! file as it grows (README "Running it as a service").

/// `println!` for the report, through [`stdout::line`]: no panic when the
/// reader closed the pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::line(format_args!($($arg)*))
    };
}

mod checkpoint;
mod dead_letter;
mod demo;
mod follow;
mod input;
mod ledger;
mod service;
mod signals;
mod stdout;
mod summary;

use clap::{Parser, Subcommand, ValueEnum};
use input::{Input, InputFormat};
use kinesis_host::config_file::{self, TargetDef};
use kinesis_host::{Grants, KinesisRuntime, OutboundPolicy, RuntimeOptions, Settled, Tenant, wit};
use service::{Books, INTERRUPTED, ServiceReport};
use signals::Stop;
use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::task::Poll;
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
    /// Compile the component on every start instead of keeping the compiled
    /// code in $KINESIS_HOST_CACHE_DIR (default $XDG_CACHE_HOME/kinesis-host
    /// or ~/.cache/kinesis-host), private to this user.
    #[arg(long)]
    no_compile_cache: bool,
    /// Keep a checkpoint of the input file here: a run resumes at the first
    /// line some target had not settled. Needs `--input FILE`. Also where
    /// `pipelines: [checkpoint]` keeps it (default: under $XDG_STATE_HOME).
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Neither read nor write a checkpoint, even for `pipelines: [checkpoint]`.
    #[arg(long, conflicts_with = "checkpoint")]
    no_checkpoint: bool,
    /// Append every event that fails for good to FILE, as its input line (in
    /// the input's format), replayable with `--input FILE`; why it failed
    /// goes to FILE.jsonl. `{target}` in FILE: one file per target.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<String>,
    /// Keep reading the input file as it grows, like `tail -F` (through
    /// rotation by rename and by copytruncate), until SIGTERM or SIGINT.
    /// Needs `--input FILE`.
    #[arg(long)]
    follow: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Text,
    Json,
}

/// Longest the CLI leaves a target with work in progress unpolled while input is quiet.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// What such a poll may wait. Not zero: a `poll` that may not wait at all
/// does not move every exchange on (a ListShards answer was never taken in,
/// and timed out after 5 s, while a pipe stayed open).
const IDLE_POLL_WAIT: Duration = Duration::from_millis(1);

/// Exit code for bad config or unreadable input.
const EXIT_USAGE: u8 = 2;
/// How long a target whose buffer is full is polled at most at a time, so
/// that a stop signal is seen soon.
const BACKPRESSURE_POLL: Duration = Duration::from_millis(250);
/// At the end of a checkpointed run a target is polled rather than flushed
/// while it has something due within this (the shard map's timeout, the
/// longest retry backoff by default).
const DRAIN_WAKE: Duration = Duration::from_secs(5);
/// Poll wait when the component names none.
const BACKPRESSURE_WAIT: Duration = Duration::from_millis(50);

/// Has glibc keep freed memory for the next request instead of handing it
/// back to the kernel. Each request body the host takes out of the guest is
/// one allocation (0.7 MiB at 500 x 1 KiB events): at glibc's defaults it
/// is mapped afresh or trimmed off the heap once sent, so every request
/// faulted its pages in again (two thirds of the run's page faults).
/// Blocks up to 8 MiB (a PutRecords body is at most about 7 MiB in base64)
/// now come from the heap, which keeps up to 16 MiB free.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's parameters (under its own
    // lock), which is sound at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 8 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
    }
}

/// One thread runs the targets and their HTTP exchanges. The loop calls the
/// targets one after another anyway, so a second worker only took the
/// connections' reads and writes, and handing them over cost more than it
/// saved: one thread takes 0.78-0.92x the CPU with JSON, in the same wall
/// time (BENCHMARKS.md, tenth pass). Input files, stdin and checkpoints
/// have threads of their own.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    keep_freed_memory();
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
    let stdin = args.input == "-";
    if stdin && args.follow {
        return Err("--follow needs --input FILE (a pipe is read as it comes without it)".into());
    }
    if stdin && args.checkpoint.is_some() {
        return Err("--checkpoint needs --input FILE (stdin cannot be read again from a checkpoint)".into());
    }
    let stop = Stop::install()?;
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
        transport: None,
        debug_log: None,
    };
    let cache_dir = if args.no_compile_cache {
        None
    } else {
        kinesis_host::compile_cache::default_dir()
    };
    let runtime = match &args.component {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read component {path}: {e}"))?;
            KinesisRuntime::with_options_cached(&bytes, options, cache_dir.as_deref())
        }
        None => KinesisRuntime::with_options_cached(
            kinesis_host::runtime::EMBEDDED_COMPONENT,
            options,
            cache_dir.as_deref(),
        ),
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
    let names: Vec<String> = tenants.iter().map(|t| t.info.name.clone()).collect();

    // Checkpoint, dead letters, the reader.
    let input_path = checkpoint::absolute(std::path::Path::new(&args.input));
    let checkpoint_path = checkpoint_path(&args, &tenants, &input_path, &names)?;
    let mut report = ServiceReport::default();
    let dead = match &args.dead_letter {
        Some(pattern) => Some(dead_letter::DeadLetters::open(pattern, &names, args.input_format)?),
        None => None,
    };
    let mut rx = if stdin {
        input::spawn_stdin(args.input_format, args.chunk_size as usize)
    } else {
        let saved = match &checkpoint_path {
            Some(path) => checkpoint::load(path)?,
            None => None,
        };
        let plan = checkpoint::plan(&input_path, saved.as_ref(), args.follow)?;
        if let Some(path) = &checkpoint_path {
            if let Some(why) = &plan.reset {
                eprintln!("kinesis-host: checkpoint {}: {why}", path.display());
            }
            if let Some(line) = plan.resumed_from_line {
                eprintln!(
                    "kinesis-host: resuming at line {line} of {} (checkpoint {})",
                    plan.resumed_in.as_deref().unwrap_or(&args.input),
                    path.display()
                );
            }
            report.resumed_from_line = plan.resumed_from_line;
            report.skipped_by_checkpoint = plan.resumed_from_line.map_or(0, |l| l - 1);
            report.checkpoint = Some(service::CheckpointReport {
                path: path.display().to_string(),
                resumed_in: plan.resumed_in.clone(),
                reset: plan.reset.clone(),
                ..Default::default()
            });
        }
        let follow_path = args.follow.then(|| input_path.clone());
        input::spawn_files(plan.starts, follow_path, args.input_format, args.chunk_size as usize)
    };
    let saver = match &checkpoint_path {
        Some(path) if !stdin => {
            let sync = dead.as_ref().map(|d| d.sync_handles()).unwrap_or_default();
            Some(checkpoint::Saver::start(path.clone(), sync)?)
        }
        _ => None,
    };
    let ledger = (saver.is_some() || dead.is_some()).then(|| ledger::Ledger::new(tenants.len(), dead.is_some()));
    let mut books = Books::new(input_path.clone(), names.clone(), ledger, dead, saver);

    let progress = progress_bar(args.report);
    let started = Instant::now();
    let (mut lines, mut skipped, mut input_error) = (0, 0, None);
    let mut generation = 0;
    loop {
        // While input is quiet, let targets collect answers and start due
        // retries; an answer can come any moment, so look at least every
        // IDLE_POLL. A checkpoint that moved is saved when its time comes.
        let wake = tenants
            .iter()
            .filter_map(Tenant::poll_after)
            .min()
            .map(|w| w.min(IDLE_POLL));
        let tick = [wake, books.save_due()].into_iter().flatten().min();
        let message = tokio::select! {
            biased;
            () = stop.reached(1) => break,
            message = rx.recv() => message,
            () = sleep_for(tick) => {
                for (i, tenant) in tenants.iter_mut().enumerate().filter(|(_, t)| t.poll_after().is_some()) {
                    let settled = tenant.poll(IDLE_POLL_WAIT).await;
                    books.settle(i, settled, false);
                }
                books.maybe_save(false);
                continue;
            }
        };
        let Some(message) = message else { break };
        match message {
            Input::Events(chunk) => {
                if let Some(ledger) = &mut books.ledger {
                    ledger.add(&chunk);
                }
                let events = chunk.events.len() as u64;
                let mut settled = Vec::with_capacity(tenants.len());
                // The last target takes the batch as read, the others a copy.
                if let Some((last, others)) = tenants.split_last_mut() {
                    for tenant in others {
                        settled.push(push_to(tenant, chunk.events.clone(), &stop).await);
                    }
                    settled.push(push_to(last, chunk.events, &stop).await);
                }
                progress.inc(events);
                (lines, skipped) = (chunk.end.lines, chunk.end.skipped);
                if let Some(source) = &chunk.end.source
                    && source.generation > generation
                {
                    report.rotations += u64::from(source.generation - generation);
                    generation = source.generation;
                }
                for (i, outcomes) in settled.into_iter().enumerate() {
                    books.settle(i, outcomes, stop.requested());
                }
                books.maybe_save(false);
            }
            Input::End(pos) => {
                (lines, skipped) = (pos.lines, pos.skipped);
                if let Some(ledger) = &mut books.ledger {
                    ledger.moved(&pos);
                }
            }
            Input::Error(e) => input_error = Some(e),
        }
    }
    // No more input: the reader stops at its next chunk.
    drop(rx);
    drain(
        &mut tenants,
        &mut books,
        &stop,
        Duration::from_secs(args.flush_budget_s.into()),
    )
    .await;
    report.stopped_by = stop.first().map(str::to_string);
    let flushed = flush_all(&mut tenants, &stop).await;
    for (i, outcomes) in flushed.into_iter().enumerate() {
        let outcomes = outcomes.unwrap_or_else(|| {
            report.interrupted = true;
            tenants[i].abandon(
                INTERRUPTED,
                "a second signal stopped the run while it was flushing: it may have been sent".into(),
            )
        });
        books.settle(i, outcomes, true);
    }
    let mut stats = Vec::with_capacity(tenants.len());
    for tenant in &mut tenants {
        stats.push(tenant.stats().await);
    }
    books.finish(&mut report);
    progress.finish_and_clear();

    let mut summary = summary::Summary::new(&tenants, stats, &crons, lines, skipped, started.elapsed());
    summary.service = report;
    match args.report {
        ReportFormat::Json => out!("{}", serde_json::to_string(&summary).unwrap_or_default()),
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

/// Where this run keeps its checkpoint: `--checkpoint`, else the default
/// place when a target has `pipelines: [checkpoint]`; none for stdin or with
/// `--no-checkpoint`.
fn checkpoint_path(
    args: &RunArgs,
    tenants: &[Tenant],
    input: &std::path::Path,
    names: &[String],
) -> Result<Option<PathBuf>, String> {
    if args.no_checkpoint {
        return Ok(None);
    }
    if let Some(path) = &args.checkpoint {
        return Ok(Some(path.clone()));
    }
    let wanted: Vec<&str> = tenants
        .iter()
        .filter(|t| t.info.pipelines.iter().any(|p| p == "checkpoint"))
        .map(|t| t.info.name.as_str())
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    if args.input == "-" {
        eprintln!(
            "kinesis-host: target {} has pipelines: [checkpoint], but the input is stdin, which cannot be resumed: no checkpoint is kept",
            wanted.join(", ")
        );
        return Ok(None);
    }
    checkpoint::default_path(input, names).map(Some)
}

/// Offers `batch` to `tenant` until it took it all: while its buffer is
/// full it is polled (a short wait at a time), and once a stop was asked for
/// it is flushed to make room instead of waiting for its schedule.
async fn push_to(tenant: &mut Tenant, mut batch: wit::EventBatch, stop: &Stop) -> Settled {
    let mut settled = Settled::default();
    loop {
        settled.append(tenant.offer(&mut batch).await);
        if batch.is_empty() {
            return settled;
        }
        if stop.requested() {
            let mut one = flush_all(std::slice::from_mut(tenant), stop).await;
            settled.append(one.pop().flatten().unwrap_or_else(|| {
                tenant.abandon(
                    INTERRUPTED,
                    "a second signal stopped the run while it was flushing: it may have been sent".into(),
                )
            }));
        } else {
            let wait = tenant.poll_after().unwrap_or(BACKPRESSURE_WAIT);
            settled.append(tenant.poll(wait.min(BACKPRESSURE_POLL)).await);
        }
    }
}

/// Before the flush, when a checkpoint is kept: polls the targets while
/// they are sending (requests in flight, or something due within
/// [`DRAIN_WAKE`]: pacing, a retry, the shard map), so that outcomes, and
/// the checkpoint with them, keep coming in as during the run (a flush is
/// one call: nothing settles before it returns). What is left (a batch not
/// full, a scheduled target's queue, a retry far off) is then flushed. Ends
/// early on a signal, and after `budget`.
async fn drain(tenants: &mut [Tenant], books: &mut Books, stop: &Stop, budget: Duration) {
    if !books.checkpointing() {
        return;
    }
    let deadline = Instant::now() + budget;
    let signals = stop.count();
    while Instant::now() < deadline && stop.count() == signals {
        let mut busy = Vec::new();
        for (i, tenant) in tenants.iter_mut().enumerate() {
            if tenant.in_flight() == 0 || tenant.trapped().is_some() {
                continue;
            }
            if tenant.poll_after().is_some_and(|w| w <= DRAIN_WAKE)
                || tenant.stats().await.is_some_and(|s| s.in_flight_requests > 0)
            {
                busy.push(i);
            }
        }
        if busy.is_empty() {
            return;
        }
        let wait = IDLE_POLL / busy.len() as u32;
        for i in busy {
            let settled = tenants[i].poll(wait).await;
            books.settle(i, settled, false);
        }
        books.maybe_save(false);
    }
}

/// Flushes every target at once. A second signal stops waiting: the
/// targets whose flush had not finished come back `None` (their instances
/// must not be called again).
async fn flush_all(tenants: &mut [Tenant], stop: &Stop) -> Vec<Option<Settled>> {
    let mut results: Vec<Option<Settled>> = (0..tenants.len()).map(|_| None).collect();
    {
        let mut flushes: Vec<_> = tenants.iter_mut().map(|t| Box::pin(t.flush())).collect();
        let interrupt = stop.reached(2);
        tokio::pin!(interrupt);
        std::future::poll_fn(|cx| {
            if interrupt.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            let mut done = true;
            for (flush, result) in flushes.iter_mut().zip(results.iter_mut()) {
                if result.is_none() {
                    match flush.as_mut().poll(cx) {
                        Poll::Ready(outcomes) => *result = Some(outcomes),
                        Poll::Pending => done = false,
                    }
                }
            }
            if done { Poll::Ready(()) } else { Poll::Pending }
        })
        .await;
    }
    results
}

/// Sleeps `tick`, or forever when there is nothing to wake for.
async fn sleep_for(tick: Option<Duration>) {
    match tick {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
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

/// The definition the component gets: `outcome_detail: ids` unless the
/// config chose. This host only counts deliveries (its report, checkpoint
/// and dead letters need ids and failures, which always come in full), so
/// a shard id and sequence number per event would be made, lifted and
/// dropped for nothing: about 9 % of the run's CPU (BENCHMARKS.md).
fn as_run(definition: &serde_json::Value) -> serde_json::Value {
    let mut definition = definition.clone();
    if let Some(props) = definition.get_mut("properties").and_then(|p| p.as_object_mut()) {
        props.entry("outcome_detail").or_insert_with(|| "ids".into());
    }
    definition
}

async fn start_tenants(runtime: &KinesisRuntime, defs: Vec<TargetDef>, grants: &Grants) -> Result<Vec<Tenant>, String> {
    let mut tenants = Vec::with_capacity(defs.len());
    for def in defs {
        let json = as_run(&def.definition).to_string();
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

#[cfg(test)]
mod tests {
    use super::as_run;

    #[test]
    fn a_run_asks_for_delivered_ids_unless_the_config_chose() {
        let def = serde_json::json!({"name": "t", "properties": {"stream": "s"}});
        assert_eq!(as_run(&def)["properties"]["outcome_detail"], "ids");
        let full = serde_json::json!({"name": "t", "properties": {"outcome_detail": "full"}});
        assert_eq!(as_run(&full)["properties"]["outcome_detail"], "full");
        // Not an object: left for the component to name the error.
        let odd = serde_json::json!({"name": "t", "properties": 3});
        assert_eq!(as_run(&odd), odd);
    }
}
