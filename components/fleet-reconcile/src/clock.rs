//! Time for the executor: the current UTC time and a sleep that works natively and inside Spin.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The executor's view of time, so tests and hosts can supply their own.
pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()>;
}

/// Wall-clock time; sleeping through tokio (native) or a wasi pollable (Spin).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        sleep(duration)
    }
}

#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await
}

#[cfg(all(feature = "spin", target_arch = "wasm32"))]
fn sleep(duration: Duration) -> impl Future<Output = ()> {
    spin_sleep::Sleep::new(duration)
}

#[cfg(not(any(
    all(feature = "native", not(target_arch = "wasm32")),
    all(feature = "spin", target_arch = "wasm32")
)))]
async fn sleep(duration: Duration) {
    std::thread::sleep(duration)
}

#[cfg(all(feature = "spin", target_arch = "wasm32"))]
mod spin_sleep {
    //! A future over `wasi:clocks/monotonic-clock.subscribe-duration`, driven by Spin's executor, so other
    //! outbound requests keep making progress while one task sleeps.
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use wasi::clocks::monotonic_clock;
    use wasi::io::poll::Pollable;

    pub struct Sleep {
        deadline: monotonic_clock::Instant,
    }

    impl Sleep {
        pub fn new(duration: Duration) -> Self {
            let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
            Sleep {
                deadline: monotonic_clock::now().saturating_add(nanos),
            }
        }
    }

    impl Future for Sleep {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if monotonic_clock::now() >= self.deadline {
                return Poll::Ready(());
            }
            let pollable: Pollable = monotonic_clock::subscribe_instant(self.deadline);
            spin_executor::push_waker(pollable, cx.waker().clone());
            Poll::Pending
        }
    }
}
