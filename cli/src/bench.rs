//! `hearth bench`: measurements against the budgets in ARCHITECTURE.md. Not a test: it
//! reports medians and percentiles; nothing here passes or fails on time.

use clap::Args as ClapArgs;

#[derive(ClapArgs)]
pub struct Args {}

pub async fn run(_args: Args, _json: bool) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
