//! `fleet-migrate`: start, watch (progress bar, ETA), cancel and dry-run a migration of existing users
//! through Fleet's admin API (`/admin/api/migrations`). The health sweep does the work unattended; this
//! tool only asks and shows. The admin token comes from `FLEET_ADMIN_TOKEN`, never from argv.

mod args;
mod client;
mod render;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use args::{Args, Command};
use client::{Api, ApiFailure};
use render::Counts;
use serde_json::{json, Value};

const MIGRATIONS: &str = "/admin/api/migrations";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match args::parse(&argv, std::env::var("FLEET_URL").ok()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(1);
        }
    };
    let token = match std::env::var("FLEET_ADMIN_TOKEN") {
        Ok(token) if !token.trim().is_empty() => token.trim().to_string(),
        _ => {
            eprintln!("error: set FLEET_ADMIN_TOKEN to Fleet's admin token (it is never read from the command line)");
            return ExitCode::from(1);
        }
    };
    let api = match Api::new(&args.url, token) {
        Ok(api) => api,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match run(&api, &args) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(1)
        }
    }
}

fn run(api: &Api, args: &Args) -> Result<ExitCode, ApiFailure> {
    match args.command {
        Command::DryRun => dry_run(api).map(|_| ExitCode::SUCCESS),
        Command::Start => start(api, args),
        Command::Watch => watch(api, args),
        Command::Cancel => cancel(api),
        Command::Status => {
            println!("{}", api.get(MIGRATIONS)?["migration"]);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn banner(title: &str) {
    println!("===========================================\n{title}\n===========================================");
}

/// Lists who would be provisioned; changes nothing. Returns how many.
fn dry_run(api: &Api) -> Result<u64, ApiFailure> {
    let r = api.post(MIGRATIONS, &json!({"dry_run": true}))?;
    banner("Pro/Elite User Migration to Dedicated Apps (dry run)");
    let count = r["count"].as_u64().unwrap_or(0);
    println!(
        "Found {count} entitled users without an app: {} batches of {}, one every {} ms (at least {} s to release).",
        r["batches"], r["pacing"]["batch_size"], r["pacing"]["interval_ms"], r["min_seconds"]
    );
    let listed = r["users"].as_array().cloned().unwrap_or_default();
    for user in &listed {
        println!("  {}", user.as_str().unwrap_or("?"));
    }
    if (listed.len() as u64) < count {
        println!("  ... and {} more", count - listed.len() as u64);
    }
    println!("Nothing was changed.");
    Ok(count)
}

fn start(api: &Api, args: &Args) -> Result<ExitCode, ApiFailure> {
    let count = dry_run(api)?;
    if count == 0 {
        println!("No Pro/Elite users to migrate.");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "error: not a terminal: pass --yes to start the migration without a confirmation"
            );
            return Ok(ExitCode::from(1));
        }
        print!("Start migrating {count} users? Type yes: ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if answer.trim() != "yes" {
            println!("Not started.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    match api.post(MIGRATIONS, &json!({})) {
        Ok(r) => println!(
            "Started migration {} of {} users; the health sweep releases the batches.",
            r["migration"]["id"].as_str().unwrap_or("?"),
            r["migration"]["total"]
        ),
        Err(f) if f.error == "migration_running" => {
            println!("A migration is already running; watching it instead.")
        }
        Err(f) => return Err(f),
    }
    if args.detach {
        println!("Watch it with: fleet-migrate watch");
        return Ok(ExitCode::SUCCESS);
    }
    watch(api, args)
}

/// Polls the progress until the migration completes or is cancelled.
fn watch(api: &Api, args: &Args) -> Result<ExitCode, ApiFailure> {
    let tty = std::io::stdout().is_terminal();
    let mut first: Option<(Instant, u64)> = None;
    let mut last_line = String::new();
    loop {
        let m = api.get(MIGRATIONS)?["migration"].clone();
        if m.is_null() {
            println!("No migration has been started (fleet-migrate start).");
            return Ok(ExitCode::from(1));
        }
        let counts = Counts::from_json(&m);
        let (since, settled_then) = *first.get_or_insert((Instant::now(), counts.settled()));
        let eta = render::eta(
            &counts,
            counts.settled().saturating_sub(settled_then),
            since.elapsed(),
        );
        let line = render::progress_line(&counts, eta);
        if tty {
            print!("\r\x1b[2K{line}");
            let _ = std::io::stdout().flush();
        } else if line != last_line {
            println!("{line}");
        }
        last_line = line;
        if counts.status != "running" {
            if tty {
                println!();
            }
            println!("{}", render::summary(&m));
            return Ok(exit_for(&m));
        }
        std::thread::sleep(args.every);
    }
}

fn cancel(api: &Api) -> Result<ExitCode, ApiFailure> {
    let r = api.post(&format!("{MIGRATIONS}/cancel"), &json!({}))?;
    let m = &r["migration"];
    println!(
        "Cancelled: {} of {} users were released and finish their provision; no further batch goes.",
        m["released"], m["total"]
    );
    Ok(ExitCode::SUCCESS)
}

fn exit_for(m: &Value) -> ExitCode {
    match (m["status"].as_str(), m["failed"].as_u64().unwrap_or(0)) {
        (Some("cancelled"), _) => ExitCode::from(3),
        (_, 0) => ExitCode::SUCCESS,
        _ => ExitCode::from(2),
    }
}
