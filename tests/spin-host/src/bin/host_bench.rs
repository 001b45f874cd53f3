//! host-bench: per-request instantiation time and HTTP round-trip latency of the spin-test-host.
//!
//! Run: `cargo build --target wasm32-wasip2 --release -p spin-conformance-component &&
//!       cargo run -p spin-test-host --bin host-bench -- [--requests N]`
//!
//! Prints p50/p99 for: (1) Store::new + instantiate from the pre-instantiated component, (2) a full keep-alive
//! HTTP round trip to a trivial route (the conformance component's echo), (3) a round trip to an unrouted path
//! (404 from the host, no wasm) as the HTTP-stack baseline; (2) minus (3) is the host's per-request overhead.

use anyhow::{bail, Context, Result};
use spin_test_host::state::RequestState;
use spin_test_host::{HostConfig, OutputSink};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let requests: usize = match args.iter().position(|a| a == "--requests") {
        Some(i) => args
            .get(i + 1)
            .context("--requests needs a number")?
            .parse()?,
        None => 2000,
    };
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let wasm = workspace.join("target/wasm32-wasip2/release/spin_conformance_component.wasm");
    if !wasm.exists() {
        bail!("{} is missing: cargo build --target wasm32-wasip2 --release -p spin-conformance-component", wasm.display());
    }
    let dir = std::env::temp_dir().join(format!("host-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let manifest = dir.join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"bench\"\n[[trigger.http]]\nroute = \"/echo/...\"\n\
             component = \"echo\"\n[component.echo]\nsource = \"{}\"\n[component.echo.variables]\nwho = \"echo\"\n",
            wasm.display()
        ),
    )?;

    let instantiation = bench_instantiation(&manifest, requests)?;
    report("instantiate (Store::new + instantiate_pre)", &instantiation);

    let host = HostConfig::new(&manifest)
        .component_output(OutputSink::Memory(Default::default()))
        .start()?;
    let mut connection = Connection::open(host.addr)?;
    for _ in 0..100 {
        connection.get("/echo/warmup")?;
    }
    let trivial = sample(requests, || {
        connection
            .get("/echo/x")
            .map(|status| assert_eq!(status, 200))
    })?;
    let baseline = sample(requests, || {
        connection
            .get("/unrouted")
            .map(|status| assert_eq!(status, 404))
    })?;
    report("round trip, trivial route (echo component)", &trivial);
    report("round trip, unrouted 404 (no wasm)", &baseline);
    println!(
        "host overhead per request (p50 trivial - p50 baseline): {:.1} µs",
        micros(percentile(&trivial, 50.0)) - micros(percentile(&baseline, 50.0))
    );
    host.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn bench_instantiation(manifest: &std::path::Path, iterations: usize) -> Result<Vec<Duration>> {
    let config = HostConfig::new(manifest);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let app = config.load_app()?;
    let component = app.components["echo"].clone();
    runtime.block_on(async {
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let started = Instant::now();
            let mut store = wasmtime::Store::new(
                &app.engine,
                RequestState::new(component.clone(), app.shared.clone()),
            );
            store.set_epoch_deadline(u64::MAX / 2);
            let _proxy = component.pre.instantiate_async(&mut store).await?;
            samples.push(started.elapsed());
        }
        Ok::<_, anyhow::Error>(samples)
    })
}

/// One keep-alive HTTP/1.1 connection; minimal parsing (status + content-length body).
struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Connection {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    fn get(&mut self, path: &str) -> Result<u16> {
        write!(self.writer, "GET {path} HTTP/1.1\r\nhost: bench\r\n\r\n")?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .context("status line")?
            .parse()?;
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse()?;
                }
                if name.eq_ignore_ascii_case("transfer-encoding")
                    && value.trim().eq_ignore_ascii_case("chunked")
                {
                    chunked = true;
                }
            }
        }
        if chunked {
            self.skip_chunks()?;
        } else {
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body)?;
        }
        Ok(status)
    }

    fn skip_chunks(&mut self) -> Result<()> {
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .context("chunk size")?;
            let mut chunk = vec![0; size + 2];
            self.reader.read_exact(&mut chunk)?;
            if size == 0 {
                return Ok(());
            }
        }
    }
}

fn sample(n: usize, mut run: impl FnMut() -> Result<()>) -> Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        run()?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[index]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn report(name: &str, samples: &[Duration]) {
    println!(
        "{name}: n={} p50={:.1} µs p99={:.1} µs",
        samples.len(),
        micros(percentile(samples, 50.0)),
        micros(percentile(samples, 99.0))
    );
}
