//! Idempotent machine creation, flyctl style: tag the machine with a launch id in its metadata and,
//! after an ambiguous failure, look it up by that tag before creating again.

use crate::client::FlyClient;
use crate::error::{ErrorClass, FlyError};
use crate::ids::AppName;
use crate::retry::{next_retry, Decision, Jitter, RetryPolicy};
use crate::transport::Transport;
use crate::types::{CreateMachineRequest, ListMachines, Machine};
use std::future::Future;
use std::time::Duration;

/// The metadata key that carries the launch id.
pub const LAUNCH_ID_KEY: &str = "fleet_launch";

/// `GET /apps/{app}/machines?metadata.fleet_launch=<id>`: the (non-destroyed) machine created by that
/// launch, if the list shows it yet (the list is eventually consistent).
pub async fn find_machine_by_launch_id<T: Transport>(
    client: &FlyClient<T>,
    app: &AppName,
    launch_id: &str,
) -> Result<Option<Machine>, FlyError> {
    let machines = client
        .list_machines(app, &ListMachines::with_metadata(LAUNCH_ID_KEY, launch_id))
        .await?;
    Ok(machines
        .into_iter()
        .find(|m| m.metadata(LAUNCH_ID_KEY) == Some(launch_id) && m.state != "destroyed"))
}

/// How [`create_machine_idempotent`] retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchOptions {
    pub policy: RetryPolicy,
    /// How long to wait before looking a launch id up: at least the machine list's consistency lag.
    pub settle: Duration,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        LaunchOptions {
            policy: RetryPolicy::default(),
            settle: Duration::from_secs(2),
        }
    }
}

/// Creates a machine at most once per `launch_id` (which the caller generates and ideally persists
/// before the first attempt). Transient failures and 429 are retried per `options.policy`; after an
/// `Ambiguous` failure it waits `options.settle` (≥ the list's consistency lag), looks the launch id up, and
/// only creates again if nothing was found.
pub async fn create_machine_idempotent<T, Sleep, SleepFut>(
    client: &FlyClient<T>,
    app: &AppName,
    request: &CreateMachineRequest,
    launch_id: &str,
    options: &LaunchOptions,
    jitter: &mut Jitter,
    sleep: Sleep,
) -> Result<Machine, FlyError>
where
    T: Transport,
    Sleep: Fn(Duration) -> SleepFut,
    SleepFut: Future<Output = ()>,
{
    let mut request = request.clone();
    request
        .config
        .metadata
        .insert(LAUNCH_ID_KEY.to_string(), launch_id.to_string());
    let (policy, settle) = (&options.policy, options.settle);
    let mut attempt = 1;
    loop {
        let err = match client.create_machine(app, &request).await {
            Ok(m) => return Ok(m),
            Err(e) => e,
        };
        match next_retry(policy, attempt, &err.class, jitter.next_unit()) {
            Decision::GiveUp if err.class == ErrorClass::Ambiguous => {
                // Out of attempts, but it may still exist: one last look.
                sleep(settle).await;
                return find_machine_by_launch_id(client, app, launch_id)
                    .await?
                    .ok_or(err);
            }
            Decision::GiveUp => return Err(err),
            Decision::Retry(d) => sleep(d).await,
            Decision::CheckThenRetry(d) => {
                sleep(d.max(settle)).await;
                if let Some(m) = find_machine_by_launch_id(client, app, launch_id).await? {
                    return Ok(m);
                }
            }
        }
        attempt += 1;
    }
}
