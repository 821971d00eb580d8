//! Scratch CLI of the model branch: `manyi train` and `manyi eval` only.
use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Train(manyi::model::train::TrainArgs),
    Eval(manyi::model::eval::EvalArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Train(args) => {
            manyi::model::train::run(&args)?;
        }
        Command::Eval(args) => manyi::model::eval::run(&args)?,
    }
    Ok(())
}
