//! The signal writer: batches rows from the engine into the database. Duplicates are skipped by the unique key;
//! failed batches are kept and retried; on shutdown the queue is flushed before exit.

use crate::engine::SignalRow;
use crate::health::Health;
use crate::metrics::Metrics;
use crate::store::{DbError, SignalOrigin, Store};
use crate::util::jittered_backoff;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const BATCH: usize = 1000;
/// Bound on rows kept while the database is down (oldest are dropped first, with a log line).
const MAX_PENDING: usize = 200_000;
const FINAL_FLUSH_ATTEMPTS: u32 = 5;

pub struct Writer {
    pub store: Arc<Store>,
    pub origin: SignalOrigin,
    pub health: Arc<Health>,
    pub metrics: Arc<Metrics>,
}

impl Writer {
    /// Runs until `rx` is closed and the queue is flushed (or the final attempts are used up).
    pub async fn run(self, mut rx: mpsc::UnboundedReceiver<Vec<SignalRow>>) {
        let mut pending: VecDeque<SignalRow> = VecDeque::new();
        let mut failures: u32 = 0;
        let mut closed = false;
        loop {
            if pending.is_empty() {
                match rx.recv().await {
                    Some(batch) => pending.extend(batch),
                    None => return,
                }
            }
            while let Ok(batch) = rx.try_recv() {
                pending.extend(batch);
            }
            if !closed && rx.is_closed() && rx.is_empty() {
                closed = true;
            }
            self.trim(&mut pending);
            self.metrics
                .set(&self.metrics.signals_pending, pending.len() as u64);
            let n = pending.len().min(BATCH);
            let batch: Vec<SignalRow> = pending.iter().take(n).cloned().collect();
            match self.write(&batch).await {
                Ok(()) => {
                    pending.drain(..n);
                    failures = 0;
                }
                Err(e) => {
                    failures += 1;
                    self.metrics.inc(&self.metrics.signal_write_errors);
                    tracing::warn!(error = ?e.to_string(), pending = pending.len(), "signal write failed; will retry");
                    if closed && failures >= FINAL_FLUSH_ATTEMPTS {
                        tracing::error!(
                            lost = pending.len(),
                            "giving up flushing signals at shutdown"
                        );
                        return;
                    }
                    let wait = jittered_backoff(
                        failures,
                        Duration::from_millis(200),
                        Duration::from_secs(30),
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        more = rx.recv(), if !closed => match more {
                            Some(b) => pending.extend(b),
                            None => closed = true,
                        },
                    }
                }
            }
            self.metrics
                .set(&self.metrics.signals_pending, pending.len() as u64);
            if closed && pending.is_empty() {
                return;
            }
        }
    }

    async fn write(&self, batch: &[SignalRow]) -> Result<(), DbError> {
        let result = self.store.insert_signals(batch, &self.origin).await;
        self.health.db_result(&result);
        match result {
            Ok(inserted) => {
                self.count(batch.len() as u64, inserted);
                Ok(())
            }
            // One row the database refuses (e.g. its trader was just disabled) must not block the others:
            // retry row by row and drop only the refused ones.
            Err(DbError::Forbidden(_)) if batch.len() > 1 => {
                for row in batch {
                    match self
                        .store
                        .insert_signals(std::slice::from_ref(row), &self.origin)
                        .await
                    {
                        Ok(inserted) => self.count(1, inserted),
                        Err(DbError::Forbidden(reason)) => {
                            tracing::warn!(trader = %row.trader_id, ?reason, "signal refused by the database; dropped")
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            Err(DbError::Forbidden(reason)) => {
                tracing::warn!(trader = %batch[0].trader_id, ?reason, "signal refused by the database; dropped");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn count(&self, attempted: u64, inserted: u64) {
        self.metrics.add(&self.metrics.signals_inserted, inserted);
        self.metrics.add(
            &self.metrics.signals_duplicate,
            attempted.saturating_sub(inserted),
        );
    }

    fn trim(&self, pending: &mut VecDeque<SignalRow>) {
        if pending.len() > MAX_PENDING {
            let drop = pending.len() - MAX_PENDING;
            pending.drain(..drop);
            tracing::error!(
                dropped = drop,
                "signal queue full while the database is unavailable"
            );
        }
    }
}
