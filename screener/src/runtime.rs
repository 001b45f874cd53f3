//! Wiring: configuration → store, HTTP, trader polling, market data, engine, signal writer, shutdown.

use crate::candle::Interval;
use crate::code::{CodeCache, CodeRunner, CodeSet};
use crate::config::{Config, MarketData, Universe};
use crate::engine::{Engine, SignalRow};
use crate::health::Health;
use crate::http::{router, AppState};
use crate::market::gap::Sequencer;
use crate::market::kline::stream_name;
use crate::market::rest::BinanceRest;
use crate::market::ws::{self, WsSettings};
use crate::market::{replay, MarketEvent};
use crate::metrics::Metrics;
use crate::signals::Writer;
use crate::store::{Scope, SignalOrigin, Store};
use crate::traders::{compile_rows, symbols_needed};
use crate::util::{jittered_backoff, unit_random};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

const WRITER_SHUTDOWN_LIMIT: Duration = Duration::from_secs(20);

struct Screener {
    config: Config,
    store: Arc<Store>,
    scope: Scope,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    engine: Engine,
    sequencer: Sequencer,
    rest: Option<BinanceRest>,
    universe: Vec<String>,
    replay: Option<Vec<MarketEvent>>,
    fingerprint: Option<String>,
    streams: Vec<String>,
    ws_stop: Option<watch::Sender<bool>>,
    market_tx: mpsc::UnboundedSender<MarketEvent>,
    signals_tx: mpsc::UnboundedSender<Vec<SignalRow>>,
    stop: watch::Receiver<bool>,
    warmed_once: bool,
    code_cache: CodeCache,
    code_runner: CodeRunner,
    code_generation: u64,
}

/// Listens on every address, IPv6 included (Fly's private network, where the health sweep probes, is IPv6);
/// IPv4 only where the host has no IPv6. The app has no public service unless Fleet's operator opts in.
async fn listen(port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(("::", port)).await {
        Ok(listener) => Ok(listener),
        Err(_) => tokio::net::TcpListener::bind(("0.0.0.0", port))
            .await
            .map_err(|e| anyhow::anyhow!("PORT: cannot listen on {port}: {e}")),
    }
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::new(&config));
    let store = Arc::new(Store::open(&config).map_err(|e| anyhow::anyhow!("DATABASE_URL: {e}"))?);
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(wait_for_shutdown_signal(stop_tx));

    let listener = listen(config.port).await?;
    let app = router(AppState {
        health: health.clone(),
        metrics: metrics.clone(),
        probe_token: config
            .probe_token
            .as_ref()
            .map(|t| Arc::new(t.expose().clone())),
    });
    let mut http_stop = stop.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = http_stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "http server failed");
        }
    });

    let (signals_tx, signals_rx) = mpsc::unbounded_channel();
    let origin = SignalOrigin {
        source: config.signal_source.clone(),
        fleet_app_id: config.fleet_app_id,
    };
    let writer = Writer {
        store: store.clone(),
        origin,
        health: health.clone(),
        metrics: metrics.clone(),
    };
    let writer = tokio::spawn(writer.run(signals_rx));

    let rest = match config.market {
        MarketData::Binance => Some(BinanceRest::new(
            &config.rest_base,
            config.rest_spacing,
            metrics.clone(),
        )),
        MarketData::Replay(_) => None,
    };
    let replay = match &config.market {
        MarketData::Replay(path) => {
            Some(replay::load(path).map_err(|e| anyhow::anyhow!("MARKET_DATA: {e}"))?)
        }
        MarketData::Binance => None,
    };
    let mut meta = serde_json::Map::new();
    meta.insert("run_mode".into(), config.run_mode.as_str().into());
    meta.insert("app".into(), config.app_name.clone().into());
    meta.insert("machine_id".into(), config.machine_id.clone().into());
    meta.insert("region".into(), config.region.clone().into());
    let (market_tx, mut market_rx) = mpsc::unbounded_channel();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let code_runner = CodeRunner::start(workers, signals_tx.clone(), metrics.clone(), None);
    let mut s = Screener {
        code_cache: CodeCache::default(),
        code_runner,
        code_generation: 0,
        scope: Scope::from_config(&config),
        sequencer: Sequencer::new(rest.clone(), metrics.clone()),
        engine: Engine::new(meta),
        store,
        health,
        metrics,
        rest,
        universe: Vec::new(),
        replay,
        fingerprint: None,
        streams: Vec::new(),
        ws_stop: None,
        market_tx,
        signals_tx,
        stop: stop.clone(),
        warmed_once: false,
        config,
    };
    tracing::info!(
        run_mode = s.config.run_mode.as_str(),
        database = %s.config.database_display(),
        "screener starting"
    );
    s.universe = s.load_universe().await;

    let mut poll = tokio::time::interval(s.config.trader_poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop_main = stop.clone();
    loop {
        tokio::select! {
            _ = stop_main.wait_for(|v| *v) => break,
            _ = poll.tick() => s.refresh_traders().await,
            Some(ev) = market_rx.recv() => s.on_market(ev).await,
        }
    }
    tracing::info!("shutting down: stopping market data and flushing signals");
    if let Some(tx) = s.ws_stop.take() {
        let _ = tx.send(true);
    }
    drop(s);
    if tokio::time::timeout(WRITER_SHUTDOWN_LIMIT, writer)
        .await
        .is_err()
    {
        tracing::error!("signal writer did not finish in time");
    }
    let _ = server.await;
    Ok(())
}

impl Screener {
    async fn load_universe(&mut self) -> Vec<String> {
        if let Some(events) = &self.replay {
            return replay::series(events);
        }
        match (&self.config.universe, &self.rest) {
            (Universe::Fixed(v), _) => v.clone(),
            (Universe::TopUsdt(n), Some(rest)) => {
                for attempt in 0..u32::MAX {
                    match rest.top_usdt_symbols(*n).await {
                        Ok(v) => return v,
                        Err(e) => tracing::warn!(error = %e, "loading the symbol universe failed"),
                    }
                    let wait =
                        jittered_backoff(attempt, Duration::from_secs(1), Duration::from_secs(60));
                    if tokio::time::timeout(wait, self.stop.wait_for(|v| *v))
                        .await
                        .is_ok()
                    {
                        break;
                    }
                }
                Vec::new()
            }
            (Universe::TopUsdt(_), None) => Vec::new(),
        }
    }

    /// Cheap poll: reload only when the visible trader set's fingerprint changed.
    async fn refresh_traders(&mut self) {
        let fp = self.store.traders_fingerprint(self.scope).await;
        self.health.db_result(&fp);
        let Ok(fp) = fp else { return };
        if self.fingerprint.as_ref() == Some(&fp) {
            return;
        }
        let rows = self.store.load_traders(self.scope).await;
        self.health.db_result(&rows);
        let Ok(rows) = rows else { return };
        self.fingerprint = Some(fp);
        self.metrics.inc(&self.metrics.trader_reloads);
        let set = compile_rows(rows, &mut self.code_cache);
        let symbols = symbols_needed(&set, &self.universe);
        tracing::info!(
            declarative = set.valid.len(),
            code = set.code.len(),
            invalid = set.invalid.len(),
            compilations = self.code_cache.compilations,
            symbols = symbols.len(),
            "traders loaded"
        );
        self.metrics.set(
            &self.metrics.traders_active,
            (set.valid.len() + set.code.len()) as u64,
        );
        self.metrics
            .set(&self.metrics.traders_invalid, set.invalid.len() as u64);
        self.metrics.set(&self.metrics.code_traders_disabled, 0);
        self.code_generation += 1;
        let code = Arc::new(CodeSet::new(
            self.code_generation,
            set.code,
            Default::default(),
        ));
        self.engine
            .configure_with_code(symbols.clone(), set.valid, code.clone());
        let min_ms = self.engine.timeframes().iter().map(|t| t.millis()).min();
        self.health.set_traders(
            self.engine.trader_count(),
            set.invalid,
            code,
            symbols,
            min_ms,
        );
        self.restart_market().await;
    }

    async fn restart_market(&mut self) {
        let streams: Vec<String> = self
            .engine
            .symbols()
            .iter()
            .flat_map(|s| {
                self.engine
                    .timeframes()
                    .iter()
                    .map(move |tf| stream_name(s, *tf))
            })
            .collect();
        if streams == self.streams {
            return;
        }
        self.streams = streams;
        if let Some(events) = self.replay.take() {
            tokio::spawn(replay::run(events, self.market_tx.clone()));
            return;
        }
        if let Some(old) = self.ws_stop.take() {
            let _ = old.send(true);
        }
        if self.streams.is_empty() {
            return;
        }
        self.warm_up().await;
        let (tx, rx) = watch::channel(false);
        let settings = WsSettings {
            base: self.config.ws_base.clone(),
            streams_per_conn: self.config.streams_per_conn,
            idle_timeout: self.config.ws_idle_timeout,
            renew_after: self.config.ws_renew_after,
        };
        ws::spawn(
            &settings,
            &self.streams,
            self.market_tx.clone(),
            self.metrics.clone(),
            rx,
        );
        self.ws_stop = Some(tx);
    }

    /// Fetches history for series that have none. The first warm-up waits a random share of
    /// STARTUP_JITTER_MS, because many user machines may share one egress IP and its REST weight budget.
    async fn warm_up(&mut self) {
        if !self.warmed_once {
            self.warmed_once = true;
            let jitter = self.config.startup_jitter.mul_f64(unit_random());
            tokio::time::sleep(jitter).await;
        }
        let series: Vec<(String, Interval)> = self
            .engine
            .symbols()
            .iter()
            .flat_map(|s| {
                self.engine
                    .timeframes()
                    .iter()
                    .map(move |tf| (s.clone(), *tf))
            })
            .filter(|(s, tf)| self.engine.last_open_time(s, *tf).is_none())
            .collect();
        let mut out = Vec::new();
        for (symbol, tf) in series {
            if *self.stop.borrow() {
                return;
            }
            if let Err(e) = self
                .sequencer
                .warm_up(&mut self.engine, &symbol, tf, &mut out)
                .await
            {
                tracing::warn!(%symbol, %tf, error = %e, "warm-up failed; retrying on the next update");
            }
            self.emit(&mut out);
            self.submit_code_jobs();
        }
    }

    fn submit_code_jobs(&mut self) {
        for job in self.engine.take_code_jobs() {
            self.code_runner.submit(job);
        }
    }

    async fn on_market(&mut self, ev: MarketEvent) {
        let MarketEvent::Kline {
            symbol,
            interval,
            candle,
            closed,
        } = ev;
        let started = Instant::now();
        let mut out = Vec::new();
        match self
            .sequencer
            .on_kline(
                &mut self.engine,
                &symbol,
                interval,
                &candle,
                closed,
                &mut out,
            )
            .await
        {
            Ok(()) if closed => self.health.candle_applied(),
            Ok(()) => {}
            Err(e) => tracing::warn!(%symbol, %interval, error = %e, "kline not applied"),
        }
        self.metrics.add(
            &self.metrics.eval_nanos_total,
            started.elapsed().as_nanos() as u64,
        );
        self.emit(&mut out);
        self.submit_code_jobs();
    }

    fn emit(&self, out: &mut Vec<SignalRow>) {
        if out.is_empty() {
            return;
        }
        self.metrics
            .add(&self.metrics.signals_emitted, out.len() as u64);
        for s in out.iter() {
            tracing::info!(trader = %s.trader_id, symbol = %s.symbol, interval = %s.interval, open_time = s.candle_open_time, "signal");
        }
        let _ = self.signals_tx.send(std::mem::take(out));
    }
}

async fn wait_for_shutdown_signal(stop: watch::Sender<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    let _ = stop.send(true);
}
