//! Apps against the simulator: create/get/list/delete, collisions, adoption, auth.

mod common;
use common::*;
use fly_api::{AppClaim, AppName, ErrorClass, NameCandidates, UserId};
use fly_simulator::{SimConfig, Timings};
use std::time::Duration;

#[tokio::test]
async fn create_get_list_and_delete_an_app() {
    let sim = /* windows long enough to observe under load */
    sim(SimConfig {
        timings: Timings {
            app_visibility_delay: Duration::from_secs(1),
            app_delete_delay: Duration::from_secs(1),
            ..Default::default()
        },
        ..SimConfig::default().without_rate_limits()
    })
    .await;
    let c = client(&sim);
    let name = ready_app(&c, "vyx-user-aaaa0001").await;
    let app = c.get_app(&name).await.unwrap();
    assert_eq!(app.name, "vyx-user-aaaa0001");
    assert_eq!(app.organization.unwrap().slug, "fleet");
    let listed = c.list_apps().await.unwrap();
    assert_eq!(listed.total_apps, 1);
    assert_eq!(listed.apps[0].name, name.as_str());

    c.delete_app(&name, true).await.unwrap();
    // Deleting: GET is 404 but the name is still taken until the deletion completes.
    let gone = c.get_app(&name).await.unwrap_err();
    assert_eq!(gone.class, ErrorClass::NotFound);
    let taken = c.create_app(&name, None).await.unwrap_err();
    assert_eq!(taken.class, ErrorClass::NameTaken);
    eventually("name released", || async {
        c.create_app(&name, None).await.ok()
    })
    .await;
}

#[tokio::test]
async fn freshly_created_app_is_briefly_invisible() {
    let sim = /* windows long enough to observe under load */
    sim(SimConfig {
        timings: Timings {
            app_visibility_delay: Duration::from_secs(1),
            app_delete_delay: Duration::from_secs(1),
            ..Default::default()
        },
        ..SimConfig::default().without_rate_limits()
    })
    .await;
    let c = client(&sim);
    let name = AppName::parse("vyx-user-aaaa0002").unwrap();
    c.create_app(&name, None).await.unwrap();
    let early = c.get_app(&name).await.unwrap_err();
    assert_eq!(early.class, ErrorClass::NotFound);
    assert!(early.request_id.as_deref().unwrap().starts_with("sim-"));
    eventually("visible", || async { c.get_app(&name).await.ok() }).await;
}

#[tokio::test]
async fn collision_with_foreign_app_takes_next_candidate() {
    let user = UserId::new("user-with-unlucky-hash");
    let candidates = NameCandidates::for_user(&user);
    let first = candidates.first().to_string();
    let sim = sim(SimConfig {
        foreign_apps: vec![first.clone()],
        ..SimConfig::default().without_rate_limits()
    })
    .await;
    let c = client(&sim);

    let probe = c.get_app(candidates.first()).await.unwrap_err();
    assert_eq!(probe.class, ErrorClass::Forbidden);
    let claim = c.claim_app(&candidates, None).await.unwrap();
    assert_eq!(claim, AppClaim::Created(candidates.all()[1].clone()));
    assert_eq!(candidates.all()[1].as_str().len(), "vyx-user-".len() + 12);
}

#[tokio::test]
async fn all_candidates_foreign_is_exhausted() {
    let candidates = NameCandidates::for_user(&UserId::new("u-exhausted"));
    let sim = sim(SimConfig {
        foreign_apps: candidates.all().iter().map(|n| n.to_string()).collect(),
        ..SimConfig::default().without_rate_limits()
    })
    .await;
    assert_eq!(
        client(&sim).claim_app(&candidates, None).await.unwrap(),
        AppClaim::Exhausted
    );
}

#[tokio::test]
async fn our_own_app_is_adopted_and_mid_creation_retries_later() {
    let sim = /* windows long enough to observe under load */
    sim(SimConfig {
        timings: Timings {
            app_visibility_delay: Duration::from_secs(1),
            app_delete_delay: Duration::from_secs(1),
            ..Default::default()
        },
        ..SimConfig::default().without_rate_limits()
    })
    .await;
    let c = client(&sim);
    let candidates = NameCandidates::for_user(&UserId::new("user-42"));
    assert_eq!(
        c.claim_app(&candidates, None).await.unwrap(),
        AppClaim::Created(candidates.first().clone())
    );
    // Immediately again: the name is taken and GET still 404s ⇒ retry later (same name).
    assert_eq!(
        c.claim_app(&candidates, None).await.unwrap(),
        AppClaim::RetryLater(candidates.first().clone())
    );
    // Once visible, it is recognised as ours and adopted.
    let adopted = eventually("adoptable", || async {
        match c.claim_app(&candidates, None).await.unwrap() {
            AppClaim::Adopted(n) => Some(n),
            _ => None,
        }
    })
    .await;
    assert_eq!(&adopted, candidates.first());
    assert_eq!(client(&sim).list_apps().await.unwrap().total_apps, 1);
}

#[tokio::test]
async fn bad_token_is_unauthorized_and_never_echoed() {
    let sim = quiet_sim().await;
    let c = client_with_token(&sim, "fo1_wrongtoken_abcdef");
    let err = c.list_apps().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unauthorized);
    let text = format!("{err} {err:?} {c:?}");
    assert!(!text.contains("fo1_wrongtoken_abcdef"), "{text}");
}

#[tokio::test]
async fn flyv1_tokens_are_sent_as_is() {
    let sim = sim(SimConfig {
        token: "FlyV1 fm2_macaroon".into(),
        ..SimConfig::default().without_rate_limits()
    })
    .await;
    client(&sim).list_apps().await.unwrap();
    let log = serde_json::to_string(&sim.request_log()).unwrap();
    assert!(!log.contains("fm2_macaroon"));
}

#[tokio::test]
async fn invalid_names_and_orgs_are_invalid_not_taken() {
    let sim = quiet_sim().await;
    let c = client(&sim);
    let other_org = fly_api::FlyClient::new(
        fly_api::transport_native::NativeTransport::new(),
        sim.base_url(),
        fly_api::Secret::from(sim.token()),
        fly_api::OrgSlug::new("someone-else"),
    );
    let err = other_org
        .create_app(&AppName::parse("vyx-user-x1").unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::NotFound);
    let err = c
        .delete_app(&AppName::parse("never-existed").unwrap(), false)
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::NotFound);
}
