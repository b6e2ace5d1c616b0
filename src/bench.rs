//! `insight bench ...`: benchmarks that print their figures beside a baseline measured in the
//! same run. Results and the commands that produced them are in BENCHMARKS.md.

use clap::Subcommand;
use infrastructure::Config;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Core: POST /analysis throughput beside raw Postgres inserts, issue pages, projection lag.
    Core,
}

pub async fn run(command: BenchCommand, _config: Config) -> anyhow::Result<()> {
    match command {
        BenchCommand::Core => anyhow::bail!("not built yet"),
    }
}
