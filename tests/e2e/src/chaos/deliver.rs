//! Hosts that can be killed and restarted, and an outbox of requests that worker threads deliver in random
//! order (reordering), several at a time, counting what happened to each.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::host_process::HostProcess;
use super::subscriptions::Delivery;

/// Host processes by slot; a slot has no URL while its host is down.
#[derive(Default)]
pub struct Hosts {
    processes: Mutex<Vec<Option<HostProcess>>>,
    urls: RwLock<Vec<Option<String>>>,
    pub restarts: AtomicUsize,
}

impl Hosts {
    pub fn new(hosts: Vec<HostProcess>) -> Hosts {
        let urls = hosts.iter().map(|h| Some(h.url(""))).collect();
        Hosts {
            processes: Mutex::new(hosts.into_iter().map(Some).collect()),
            urls: RwLock::new(urls),
            restarts: AtomicUsize::new(0),
        }
    }

    pub fn url(&self, slot: usize) -> Option<String> {
        self.urls.read().unwrap()[slot].clone()
    }

    pub fn len(&self) -> usize {
        self.urls.read().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// SIGKILLs the slot's host (in-flight requests die with it).
    pub fn kill(&self, slot: usize) {
        self.urls.write().unwrap()[slot] = None;
        let process = self.processes.lock().unwrap()[slot].take();
        if let Some(mut process) = process {
            process.kill();
        }
    }

    /// Puts a freshly started host in the slot.
    pub fn replace(&self, slot: usize, host: HostProcess) {
        let url = host.url("");
        self.processes.lock().unwrap()[slot] = Some(host);
        self.urls.write().unwrap()[slot] = Some(url);
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }
}

/// What happened to the deliveries.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sent: usize,
    /// Answers by HTTP status.
    pub answered: BTreeMap<u16, usize>,
    /// Answers by host slot.
    pub by_host: BTreeMap<usize, usize>,
    /// The host was down (killed, restarting) or died mid-request.
    pub unreachable: usize,
    /// The client gave up first.
    pub aborted: usize,
    /// 5xx answers, for the failure message.
    pub server_errors: Vec<String>,
}

#[derive(Default)]
pub struct Outbox {
    queue: Mutex<Vec<(Delivery, usize)>>,
    in_flight: AtomicUsize,
    closed: AtomicBool,
    tally: Mutex<Tally>,
}

impl Outbox {
    pub fn push(&self, delivery: Delivery, slot: usize) {
        self.queue.lock().unwrap().push((delivery, slot));
    }

    pub fn pending(&self) -> usize {
        self.queue.lock().unwrap().len() + self.in_flight.load(Ordering::Relaxed)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// No more deliveries will be pushed; workers exit once the queue is empty.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    pub fn tally(&self) -> Tally {
        self.tally.lock().unwrap().clone()
    }

    /// Waits until at most `n` deliveries are queued or in flight (bounded by `within`).
    pub fn wait_until_pending_at_most(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.pending() > n {
            assert!(
                Instant::now() < deadline,
                "deliveries stuck: {} pending",
                self.pending()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Delivers until closed and drained; picks at random from the queue, so deliveries are reordered.
    pub fn work(&self, seed: u64, hosts: &Hosts, secret: &str) {
        let mut rng = StdRng::seed_from_u64(seed);
        let http = reqwest::blocking::Client::new();
        loop {
            let next = {
                let mut queue = self.queue.lock().unwrap();
                if queue.is_empty() {
                    None
                } else {
                    let i = rng.gen_range(0..queue.len());
                    self.in_flight.fetch_add(1, Ordering::Relaxed);
                    Some(queue.swap_remove(i))
                }
            };
            let Some((delivery, slot)) = next else {
                if self.closed.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let outcome = hosts
                .url(slot)
                .map(|base| delivery.send(&http, &base, secret));
            let mut tally = self.tally.lock().unwrap();
            tally.sent += 1;
            match outcome {
                None => tally.unreachable += 1,
                Some(Err(e)) if e.is_timeout() => tally.aborted += 1,
                Some(Err(_)) => tally.unreachable += 1,
                Some(Ok((status, body))) => {
                    *tally.answered.entry(status).or_default() += 1;
                    *tally.by_host.entry(slot).or_default() += 1;
                    if status >= 500 {
                        tally
                            .server_errors
                            .push(format!("{} → {status} {body}", delivery.route));
                    }
                }
            }
            drop(tally);
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
