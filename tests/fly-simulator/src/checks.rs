//! The health-check prober for process-driven machines: probes each check's real endpoint.

use crate::sim::Sim;
use crate::state::{now_rfc3339, CheckRec};
use std::sync::Arc;
use std::time::Duration;

struct Target {
    app: String,
    machine: String,
    port: u16,
    /// (check name, "http"|"tcp", path)
    checks: Vec<(String, String, String)>,
}

fn targets(sim: &Sim) -> Vec<Target> {
    let world = sim.world();
    let mut out = Vec::new();
    for (app, a) in &world.apps {
        for m in a.machines.values() {
            let (Some(p), "started") = (&m.process, m.state.as_str()) else {
                continue;
            };
            let checks = m.config["checks"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(name, c)| {
                            let kind = c["type"].as_str().unwrap_or("http").to_string();
                            let path = c["path"].as_str().unwrap_or("/health").to_string();
                            (name.clone(), kind, path)
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Target {
                app: app.clone(),
                machine: m.id.clone(),
                port: p.port,
                checks,
            });
        }
    }
    out
}

async fn probe(
    http: &reqwest::Client,
    port: u16,
    kind: &str,
    path: &str,
) -> (&'static str, String) {
    if kind == "tcp" {
        return match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(_) => ("passing", "tcp connect ok".into()),
            Err(e) => ("critical", format!("tcp connect failed: {e}")),
        };
    }
    match http
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => ("passing", format!("HTTP {}", r.status().as_u16())),
        Ok(r) => ("critical", format!("HTTP {}", r.status().as_u16())),
        Err(e) => ("critical", format!("request failed: {e}")),
    }
}

/// Probes every started, process-backed machine once and records the results.
pub async fn probe_all(sim: &Arc<Sim>, http: &reqwest::Client) {
    for t in targets(sim) {
        let mut results = Vec::new();
        for (name, kind, path) in &t.checks {
            results.push((name.clone(), probe(http, t.port, kind, path).await));
        }
        let mut world = sim.world();
        let Some(m) = world
            .apps
            .get_mut(&t.app)
            .and_then(|a| a.machines.get_mut(&t.machine))
        else {
            continue;
        };
        // Skip stale results if the process was replaced meanwhile.
        if m.process.as_ref().map(|p| p.port) != Some(t.port) || m.crashed {
            continue;
        }
        for (name, (status, output)) in results {
            m.checks.insert(
                name,
                CheckRec {
                    status,
                    output,
                    updated_at: now_rfc3339(),
                },
            );
        }
    }
}

/// The client the prober uses: short timeouts so a hung process cannot stall the ticker.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("reqwest client builds")
}
