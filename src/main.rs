//! The `manyi` binary: parse the CLI, load and validate config, wire signals, run, exit code.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use manyi::cli::{Cli, Command, ScoreArgs};
use manyi::score::indices::Thresholds;
use manyi::{Config, Model, Pipeline, Segmenter};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "manyi=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<NotWritten>() => {
            eprintln!("{e}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// `manyi adapt` wrote nothing: the new model did not beat the current one (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("adapt: no model written")]
struct NotWritten;

/// The error and its causes joined by ": ", like `{:#}`, but without a cause that the message
/// before it already ends with: our errors show their source in their own message, so the
/// chain would otherwise print it twice ("cannot read x: No such file: No such file").
fn describe(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let msg = cause.to_string();
        if out.ends_with(&msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&msg);
    }
    out
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::CheckConfig(args) => {
            let cfg = Config::from_file(&args.config)?.validate()?;
            Model::open(&cfg.model.path)
                .with_context(|| format!("model.path {}", cfg.model.path.display()))?;
            println!(
                "{}: ok ({} topics, windows {})",
                args.config.display(),
                cfg.kafka.topics.len(),
                cfg.windows
                    .specs
                    .iter()
                    .map(|w| w.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        Command::Run(args) => {
            let cfg = Config::from_file(&args.config)?.validate()?;
            runtime()?.block_on(async move {
                let pipeline = Pipeline::build(cfg).await?;
                spawn_sighup(pipeline.reload_handle());
                tracing::info!(addr = %pipeline.local_addr(), "serving metrics");
                pipeline.run(shutdown_signal()).await?;
                Ok(())
            })
        }
        Command::Demo(args) => runtime()?.block_on(async move {
            manyi::tools::demo::run(&args, shutdown_signal()).await?;
            Ok(())
        }),
        Command::Score(args) => score(&args),
        Command::Bench(args) => {
            if let Some(path) = &args.write_events {
                let n = manyi::tools::bench::write_events(&args, path)?;
                eprintln!("{}: {n} events", path.display());
                return Ok(());
            }
            let report = runtime()?.block_on(manyi::tools::bench::run(&args))?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.table());
            }
            Ok(())
        }
        Command::Train(args) => Ok(manyi::tools::train::run(&args.options()).map(|_| ())?),
        Command::Eval(args) => Ok(manyi::tools::eval::run(&args)?),
        Command::Adapt(args) => {
            let cfg = match &args.config {
                Some(path) => Some(Config::from_file(path)?.validate()?),
                None => None,
            };
            match manyi::tools::adapt::main(&args, cfg.as_ref())? {
                true => Ok(()),
                false => Err(NotWritten.into()),
            }
        }
        Command::Backfill(args) => {
            let cfg = Config::from_file(&args.config)?.validate()?;
            let range = manyi::tools::backfill::Range::parse(
                &args.from,
                args.until.as_deref(),
                &args.step,
            )?;
            let s = manyi::tools::backfill::run(&cfg, range, &args.out)?;
            eprintln!(
                "{}: {} series, {} samples over {} steps ({} messages, {} applied, {} invalid, {} outside the range)",
                args.out.display(), s.series, s.samples, s.steps, s.messages, s.applied, s.invalid, s.outside
            );
            Ok(())
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // The reactor only moves messages; CPU work runs on the pipeline's own worker threads.
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown signal received");
}

fn spawn_sighup(reload: std::sync::Arc<tokio::sync::Notify>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading model");
            reload.notify_one();
        }
    });
}

fn score(args: &ScoreArgs) -> anyhow::Result<()> {
    let model =
        Model::open(&args.model).with_context(|| format!("loading {}", args.model.display()))?;
    let segmenter = Segmenter::new(None)?;
    let thresholds = Thresholds {
        negative_below: args.negative_below,
        positive_above: args.positive_above,
    };
    let emit = |text: &str| {
        let p = model.p_positive(&segmenter, text);
        let line = serde_json::json!({ "text": text, "p_positive": p, "label": thresholds.label(p).as_str() });
        println!("{line}");
    };
    if args.texts.is_empty() {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            if !line.trim().is_empty() {
                emit(line.trim());
            }
        }
    } else {
        args.texts.iter().for_each(|t| emit(t));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_prints_each_cause_once() {
        let read = || -> anyhow::Result<()> {
            Config::from_file(std::path::Path::new("/nonexistent/manyi.toml"))?;
            Ok(())
        };
        let e = read().context("loading the config").unwrap_err();
        let text = describe(&e);
        assert!(
            text.starts_with(
                "loading the config: cannot read config file /nonexistent/manyi.toml: "
            ),
            "{text}"
        );
        assert_eq!(text.matches("/nonexistent/manyi.toml").count(), 1, "{text}");
        // `{:#}` repeats the OS error; describe does not.
        let os_error = std::fs::read("/nonexistent/manyi.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(format!("{e:#}").matches(&os_error).count(), 2, "{e:#}");
        assert_eq!(text.matches(&os_error).count(), 1, "{text}");
        let plain = anyhow::anyhow!("outer").context("ctx");
        assert_eq!(describe(&plain), "ctx: outer");
    }
}
