//! Carrying out one decided action against Fly and the store. Each step writes its row change and exactly
//! one event, and is safe to repeat: every Fly call here is idempotent or checked before it is retried.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fleet_store::{AppRow, AppStatus, EventType, SqlConnection, UserId};
use fly_api::types::{SetSecretsRequest, StopRequest};
use fly_api::{
    create_machine_idempotent, resolve_collision, AppName, CollisionOutcome, ErrorClass, FlyError,
    Jitter, LaunchOptions, MachineId, NameCandidates, Secret, Transport,
};
use serde_json::json;

use crate::clock::Clock;
use crate::config::DatabaseAccess;
use crate::decide::Action;
use crate::pass::{action_label, Reconciler, StepError, StepResult};
use crate::screener_db::screener_database_url;

/// How long to wait before looking again at an app Fly is still deleting.
const DELETION_RECHECK: Duration = Duration::from_secs(1);
/// The longest single wait for a machine state within one step (the row lease is renewed between steps).
const MAX_MACHINE_WAIT: Duration = Duration::from_secs(15);
/// Machine creation retries quickly and within the row lease; a longer `Retry-After` ends the pass as a wait.
fn launch_options() -> LaunchOptions {
    LaunchOptions {
        policy: fly_api::RetryPolicy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(2),
            max_attempts: 3,
            max_retry_after: Duration::from_secs(5),
        },
        settle: Duration::from_secs(2),
    }
}
/// How long a freshly created app may stay invisible (eventual consistency) before we stop waiting.
const APP_VISIBILITY_POLLS: u32 = 20;

/// Parses a stored app name; a corrupt name is a Fly-side invalid request, never a panic.
pub(crate) fn app_name(name: &str) -> Result<AppName, FlyError> {
    AppName::parse(name).map_err(|e| FlyError {
        class: ErrorClass::Invalid,
        status: None,
        message: format!("stored app name is invalid: {e}"),
        request_id: None,
    })
}

fn machine_id(id: &str) -> Result<MachineId, FlyError> {
    MachineId::parse(id).map_err(|e| FlyError {
        class: ErrorClass::Invalid,
        status: None,
        message: format!("machine id is invalid: {e}"),
        request_id: None,
    })
}

impl<C: SqlConnection, T: Transport, K: Clock> Reconciler<'_, C, T, K> {
    pub(crate) async fn execute(
        &mut self,
        action: &Action,
        row: &mut AppRow,
        deadline: DateTime<Utc>,
    ) -> Result<StepResult, StepError> {
        let label = action_label(action);
        match action {
            Action::ChooseName => self.choose_name(row),
            Action::BeginProvision => {
                row.status = AppStatus::Provisioning;
                row.deleted_at = None;
                self.save(row)?;
                self.event(row, EventType::ProvisionRequested, json!({"action": label}))?;
                Ok(StepResult::Continue)
            }
            Action::CreateApp => self.create_app(row).await,
            Action::ProvisionSecrets => self.provision_secrets(row).await,
            Action::CreateMachine => self.create_machine(row).await,
            Action::StartMachine { machine_id: id } => {
                let app = self.app(row)?;
                self.fly.start_machine(&app, &machine_id(id)?, None).await?;
                let event_type = if row.status == AppStatus::Active {
                    EventType::RecoveryAttempted
                } else {
                    EventType::ProvisionStarted
                };
                self.event(row, event_type, json!({"action": label, "machine_id": id}))?;
                Ok(StepResult::Continue)
            }
            Action::WaitForMachine {
                machine_id: id,
                target,
            } => self.wait_for_machine(row, id, target, deadline).await,
            Action::StopMachine { machine_id: id } => {
                let app = self.app(row)?;
                let stop = StopRequest {
                    signal: Some("SIGTERM".into()),
                    timeout: Some("30s".into()),
                };
                self.fly
                    .stop_machine(&app, &machine_id(id)?, &stop, None)
                    .await?;
                self.event(
                    row,
                    EventType::DeprovisionStarted,
                    json!({"action": label, "machine_id": id}),
                )?;
                Ok(StepResult::Continue)
            }
            Action::DestroyMachine { machine_id: id } => {
                let app = self.app(row)?;
                match self
                    .fly
                    .delete_machine(&app, &machine_id(id)?, true, None)
                    .await
                {
                    Ok(()) => {}
                    Err(e) if e.class == ErrorClass::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
                if row.machine_id.as_deref() == Some(id.as_str()) {
                    row.machine_id = None;
                    self.save(row)?;
                }
                let event_type = if row.status == AppStatus::Deprovisioning {
                    EventType::DeprovisionStarted
                } else {
                    EventType::RecoveryAttempted
                };
                self.event(row, event_type, json!({"action": label, "machine_id": id}))?;
                Ok(StepResult::Continue)
            }
            Action::MarkActive { machine_id: id } => {
                let now = self.clock.now();
                row.status = AppStatus::Active;
                row.machine_id = Some(id.clone());
                row.deployed_at = Some(now);
                row.error_message = None;
                row.attempts = 0;
                row.next_attempt_at = None;
                self.save(row)?;
                self.event(
                    row,
                    EventType::ProvisionCompleted,
                    json!({"machine_id": id}),
                )?;
                Ok(StepResult::Continue)
            }
            Action::BeginDeprovision => {
                row.status = AppStatus::Deprovisioning;
                self.save(row)?;
                self.event(
                    row,
                    EventType::DeprovisionRequested,
                    json!({"action": label}),
                )?;
                Ok(StepResult::Continue)
            }
            Action::RevokeDatabaseRole => {
                if let Some(role) = row.db_role_name.clone() {
                    self.store.drop_screener_role(&role)?;
                    row.db_role_name = None;
                    self.save(row)?;
                    self.event(row, EventType::CredentialRevoked, json!({"role": role}))?;
                }
                Ok(StepResult::Continue)
            }
            Action::DeleteApp => {
                let app = self.app(row)?;
                match self.fly.delete_app(&app, true).await {
                    Ok(()) => {}
                    Err(e) if e.class == ErrorClass::NotFound => return Ok(StepResult::Continue),
                    Err(e) => return Err(e.into()),
                }
                self.event(row, EventType::DeprovisionStarted, json!({"action": label}))?;
                // Fly deletes asynchronously (202): give it a moment before confirming the 404.
                self.pause_within(deadline, DELETION_RECHECK).await
            }
            Action::MarkDeleted => {
                row.status = AppStatus::Deleted;
                row.deleted_at = Some(self.clock.now());
                row.machine_id = None;
                row.secrets_version = None;
                row.launch_id = None;
                row.error_message = None;
                row.attempts = 0;
                row.next_attempt_at = None;
                self.save(row)?;
                self.event(row, EventType::DeprovisionCompleted, json!({}))?;
                Ok(StepResult::Continue)
            }
            Action::Converged => Ok(StepResult::Continue),
        }
    }

    fn app(&self, row: &AppRow) -> Result<AppName, StepError> {
        let name = row
            .fly_app_name
            .as_deref()
            .ok_or_else(|| StepError::Stuck("the row has no app name".into()))?;
        Ok(app_name(name)?)
    }

    fn candidates(user_id: UserId) -> NameCandidates {
        NameCandidates::for_user(&fly_api::UserId::new(user_id.to_string()))
    }

    /// The first candidate name no other user's row holds; the row keeps it for good.
    fn choose_name(&mut self, row: &mut AppRow) -> Result<StepResult, StepError> {
        let mut chosen = None;
        for candidate in Self::candidates(row.user_id).all() {
            match self.store.app_by_name(candidate.as_str())? {
                Some(other) if other.user_id != row.user_id => continue,
                _ => {
                    chosen = Some(candidate.to_string());
                    break;
                }
            }
        }
        let name = chosen.ok_or_else(|| {
            StepError::Stuck("every app name candidate is held by another user".into())
        })?;
        row.fly_app_name = Some(name.clone());
        row.fly_org_slug = Some(self.config.org.as_str().to_string());
        row.region = Some(self.config.region.clone());
        row.docker_image = Some(self.config.image.clone());
        row.cpu_kind = Some(self.config.guest.cpu_kind.clone());
        row.cpus = Some(i64::from(self.config.guest.cpus));
        row.memory_mb = Some(i64::from(self.config.guest.memory_mb));
        row.status = AppStatus::Provisioning;
        self.save(row)?;
        self.event(
            row,
            EventType::ProvisionStarted,
            json!({"action": "choose_name", "app_name": name}),
        )?;
        Ok(StepResult::Continue)
    }

    /// Creates the app (network = its name), adopting it when the name is already ours.
    async fn create_app(&mut self, row: &mut AppRow) -> Result<StepResult, StepError> {
        let app = self.app(row)?;
        let (created, ambiguous) = match self.fly.create_app(&app, Some(app.as_str())).await {
            Ok(()) => (true, None),
            Err(e) if e.class == ErrorClass::NameTaken => (false, None),
            Err(e) if e.class == ErrorClass::Ambiguous => (false, Some(e)),
            Err(e) => return Err(e.into()),
        };
        if !created {
            let probe = self.fly.probe_name(&app).await?;
            match resolve_collision(
                &Self::candidates(row.user_id),
                &app,
                &probe,
                &self.config.org,
            ) {
                CollisionOutcome::Adopt(_) => {}
                CollisionOutcome::TryNext(next) => {
                    row.fly_app_name = Some(next.to_string());
                    self.save(row)?;
                    self.event(row, EventType::ProvisionStarted, json!({"action": "rename_app", "taken": app.as_str(), "app_name": next.as_str()}))?;
                    return Ok(StepResult::Continue);
                }
                // Mid-deletion (e.g. a reprovision right after a deprovision): Fly frees the name soon. Either
                // way this pass made no progress, so it counts as a failed attempt with its reason (backoff,
                // then `error`), else a name held invisibly would loop unseen. An ambiguous create that Fly does
                // not show yet reports the ambiguous error. Repeating the create is safe: it either creates the
                // app or answers name_taken and we adopt.
                CollisionOutcome::RetryLater(_) => {
                    return Err(match ambiguous {
                        Some(e) => e.into(),
                        None => StepError::Stuck(format!(
                            "app name {app} is taken but not visible at Fly (still being deleted?); retrying later"
                        )),
                    })
                }
                CollisionOutcome::Exhausted => {
                    return Err(StepError::Stuck(
                        "every app name candidate is held by another organisation".into(),
                    ))
                }
            }
        } else {
            self.wait_until_app_visible(&app).await?;
        }
        // A new (or adopted) app gets its secrets and machine set up again: both steps are idempotent.
        row.secrets_version = None;
        row.machine_id = None;
        self.save(row)?;
        let how = if created { "created" } else { "adopted" };
        self.event(
            row,
            EventType::ProvisionStarted,
            json!({"action": "create_app", "result": how}),
        )?;
        Ok(StepResult::Continue)
    }

    /// Fly's app reads are eventually consistent: right after a 201, GET may still say 404.
    async fn wait_until_app_visible(&self, app: &AppName) -> Result<(), StepError> {
        for poll in 0..APP_VISIBILITY_POLLS {
            match self.fly.get_app(app).await {
                Ok(_) => return Ok(()),
                Err(e) if e.class == ErrorClass::NotFound => {
                    self.clock
                        .sleep(Duration::from_millis(50 * u64::from(poll + 1).min(10)))
                        .await
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Mints the per-user database credential (Postgres) and sets every app secret in one bulk call.
    async fn provision_secrets(&mut self, row: &mut AppRow) -> Result<StepResult, StepError> {
        let app = self.app(row)?;
        let database_url = match &self.config.database {
            DatabaseAccess::Shared { database_url } => database_url.clone(),
            access => {
                let password = Secret::new(random_hex(32));
                let salt = *uuid::Uuid::new_v4().as_bytes();
                let role =
                    self.store
                        .create_screener_role(row.user_id, password.expose(), &salt)?;
                let rotated = row.db_role_name.is_some();
                row.db_role_name = Some(role.clone());
                self.save(row)?;
                let event_type = if rotated {
                    EventType::CredentialRotated
                } else {
                    EventType::CredentialCreated
                };
                self.event(row, event_type, json!({"role": role}))?;
                screener_database_url(access, &role, &password)
                    .expect("a per-user role access has a URL")
            }
        };
        let mut request = SetSecretsRequest::new().set("DATABASE_URL", database_url);
        for (name, value) in &self.config.extra_secrets {
            request = request.set(name.clone(), value.clone());
        }
        if let Some(token) = self.config.exposure.probe_token(app.as_str()) {
            request = request.set(crate::PROBE_TOKEN_SECRET, token);
        }
        let response = self.fly.set_secrets(&app, &request).await?;
        row.secrets_version = Some(response.version as i64);
        self.save(row)?;
        self.event(
            row,
            EventType::ProvisionStarted,
            json!({"action": "set_secrets", "secrets_version": response.version}),
        )?;
        Ok(StepResult::Continue)
    }

    /// Creates the one machine, tagged with a fresh launch id; falls back through regions on capacity errors.
    async fn create_machine(&mut self, row: &mut AppRow) -> Result<StepResult, StepError> {
        let app = self.app(row)?;
        let launch_id = uuid::Uuid::new_v4().to_string();
        row.launch_id = Some(launch_id.clone());
        self.save(row)?;
        let user = row.user_id.to_string();
        let secrets_version = row.secrets_version.map(|v| v as u64);
        let mut jitter = Jitter::seeded(uuid::Uuid::new_v4().as_u128() as u64);
        let mut last_error = None;
        for region in self.config.regions() {
            let request =
                self.config
                    .machine_request(&user, row.id.as_deref(), region, secrets_version);
            let clock = self.clock;
            let created = create_machine_idempotent(
                self.fly,
                &app,
                &request,
                &launch_id,
                &launch_options(),
                &mut jitter,
                |d| clock.sleep(d),
            )
            .await;
            match created {
                Ok(machine) => {
                    row.machine_id = Some(machine.id.as_str().to_string());
                    row.region = Some(region.to_string());
                    self.save(row)?;
                    self.event(row, EventType::ProvisionStarted, json!({"action": "create_machine", "machine_id": machine.id.as_str(), "region": region, "launch_id": launch_id}))?;
                    return Ok(StepResult::Continue);
                }
                Err(e) if e.class == ErrorClass::InsufficientCapacity => last_error = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last_error
            .map(StepError::Fly)
            .unwrap_or_else(|| StepError::Stuck("no region configured".into())))
    }

    /// Waits (server-side, bounded by the budget and Fly's 60 s) for the machine to reach `target`.
    async fn wait_for_machine(
        &mut self,
        row: &AppRow,
        id: &str,
        target: &str,
        deadline: DateTime<Utc>,
    ) -> Result<StepResult, StepError> {
        let app = self.app(row)?;
        // Bounded well inside the row lease, which is renewed before the next step.
        let remaining = (deadline - self.clock.now())
            .to_std()
            .unwrap_or_default()
            .min(MAX_MACHINE_WAIT);
        if remaining < Duration::from_secs(1) {
            return Ok(StepResult::Pause(Duration::ZERO));
        }
        match self
            .fly
            .wait_machine(&app, &machine_id(id)?, target, remaining, None)
            .await
        {
            Ok(_) => Ok(StepResult::Continue),
            // 408: not yet; a 4xx such as "machine is in another state" also just means look again.
            Err(e) if e.is_wait_timeout() || e.class == ErrorClass::Invalid => {
                Ok(StepResult::Continue)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sleeps `pause` if the budget allows, else ends the pass with the row due after it.
    async fn pause_within(
        &self,
        deadline: DateTime<Utc>,
        pause: Duration,
    ) -> Result<StepResult, StepError> {
        if fleet_store::time::after(self.clock.now(), pause) < deadline {
            self.clock.sleep(pause).await;
            Ok(StepResult::Continue)
        } else {
            Ok(StepResult::Pause(pause))
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes * 2);
    while out.len() < bytes * 2 {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(bytes * 2);
    out
}
