//! The command line: a command and a few options. The admin token is read from the environment only.

use std::time::Duration;

pub const USAGE: &str = "\
fleet-migrate: migrate the platform's existing Pro/Elite users to their own Fly apps, through Fleet's
admin API. The health sweep releases the users in paced batches (migration_batch_size users every
migration_interval_ms); this tool starts, watches and cancels that, and shows a dry run.

usage: fleet-migrate <command> [options]

commands:
  dry-run   list who would be provisioned and how long the release takes; changes nothing
  start     start a migration, then watch it (--detach: start only; --yes: no confirmation)
  watch     show progress (bar, done/failed/remaining, ETA) until it completes or is cancelled
  cancel    release no further batch (users already released still finish)
  status    print the migration's progress as JSON once

options:
  --url URL        Fleet's base URL (default: $FLEET_URL, else http://127.0.0.1:3000)
  --every SECS     watch: seconds between polls (default 2)
  --detach         start: do not watch
  --yes            start: do not ask for confirmation

environment:
  FLEET_ADMIN_TOKEN   the admin token (required; never pass it on the command line)
  FLEET_URL           Fleet's base URL

exit status: 0 done (or complete with no failure), 1 error, 2 complete with failed users, 3 cancelled";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    DryRun,
    Start,
    Watch,
    Cancel,
    Status,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Args {
    pub command: Command,
    pub url: String,
    pub every: Duration,
    pub detach: bool,
    pub yes: bool,
}

pub const DEFAULT_URL: &str = "http://127.0.0.1:3000";

/// Parses the arguments after the program name. `env_url` is `$FLEET_URL`.
pub fn parse(args: &[String], env_url: Option<String>) -> Result<Args, String> {
    let mut it = args.iter();
    let command = match it.next().map(String::as_str) {
        Some("dry-run") => Command::DryRun,
        Some("start") => Command::Start,
        Some("watch") => Command::Watch,
        Some("cancel") => Command::Cancel,
        Some("status") => Command::Status,
        Some("-h" | "--help" | "help") | None => return Err(USAGE.to_string()),
        Some(other) => return Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    let mut parsed = Args {
        command,
        url: env_url
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_URL.to_string()),
        every: Duration::from_secs(2),
        detach: false,
        yes: false,
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--url" => parsed.url = it.next().ok_or("--url needs a value")?.clone(),
            "--every" => {
                let secs: u64 = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|s| (1..=3600).contains(s))
                    .ok_or("--every needs whole seconds from 1 to 3600")?;
                parsed.every = Duration::from_secs(secs);
            }
            "--detach" if command == Command::Start => parsed.detach = true,
            "--yes" | "-y" if command == Command::Start => parsed.yes = true,
            // Never echo what follows: it may be a token pasted by mistake.
            a if a.starts_with("--token") || a.starts_with("--admin-token") => return Err(
                "the admin token is read from FLEET_ADMIN_TOKEN only, never from the command line"
                    .to_string(),
            ),
            other if other.starts_with('-') => {
                return Err(format!(
                    "unknown option {} for this command\n\n{USAGE}",
                    printable(other)
                ))
            }
            _ => return Err(format!("unexpected argument\n\n{USAGE}")),
        }
    }
    let url = parsed.url.trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err("--url must start with http:// or https://".to_string());
    }
    parsed.url = url;
    Ok(parsed)
}

/// An option name as typed, cut short and without control characters.
fn printable(s: &str) -> String {
    s.split('=')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn commands_and_options_parse() {
        let a = parse(
            &args(&["start", "--yes", "--detach", "--url", "https://f.example/"]),
            None,
        )
        .unwrap();
        assert_eq!(
            (a.command, a.yes, a.detach, a.url.as_str()),
            (Command::Start, true, true, "https://f.example")
        );
        let w = parse(&args(&["watch", "--every", "5"]), Some("http://h:1".into())).unwrap();
        assert_eq!(
            (w.command, w.every, w.url.as_str()),
            (Command::Watch, Duration::from_secs(5), "http://h:1")
        );
        assert_eq!(parse(&args(&["dry-run"]), None).unwrap().url, DEFAULT_URL);
    }

    #[test]
    fn a_token_on_the_command_line_is_refused_without_echoing_it() {
        for bad in [
            &["start", "--token", "s3cr3t"][..],
            &["watch", "--token=s3cr3t"],
            &["cancel", "--admin-token", "x"],
        ] {
            let e = parse(&args(bad), None).unwrap_err();
            assert!(
                e.contains("FLEET_ADMIN_TOKEN") && !e.contains("s3cr3t"),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_input_is_an_error_with_usage() {
        assert!(parse(&args(&[]), None).unwrap_err().contains("usage"));
        assert!(parse(&args(&["migrate"]), None).is_err());
        assert!(parse(&args(&["watch", "--every", "0"]), None).is_err());
        assert!(parse(&args(&["watch", "--yes"]), None).is_err());
        assert!(parse(&args(&["start", "--url", "ftp://x"]), None).is_err());
        assert!(parse(&args(&["start", "extra"]), None).is_err());
    }
}
