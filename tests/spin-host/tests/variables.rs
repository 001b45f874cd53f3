//! Variable scoping, templating, sources and startup errors.

mod common;

use common::{get_json, TestApp};

#[test]
fn component_sees_only_its_declared_variables_rendered_from_templates() {
    let app = TestApp::new();
    let (host, client) = app.start();
    let (status, body) = get_json(&client, &host.url("/api/var?name=message"));
    assert_eq!(
        (status, body["value"].as_str()),
        (200, Some("hello, world")),
        "{body}"
    );
    let (status, body) = get_json(&client, &host.url("/api/var?name=auth"));
    assert_eq!(
        (status, body["value"].as_str()),
        (200, Some("Bearer t0k-secret")),
        "{body}"
    );
    // Application variables are not visible directly, and other components' variables are not visible at all.
    let (status, body) = get_json(&client, &host.url("/api/var?name=api_token"));
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("Undefined"),
        "{body}"
    );
    let (status, _) = get_json(&client, &host.url("/var?name=message"));
    assert_eq!(status, 404);
    let (status, body) = get_json(&client, &host.url("/var?name=who"));
    assert_eq!((status, body["value"].as_str()), (200, Some("fallback")));
    let (status, body) = get_json(&client, &host.url("/api/var?name=Not-Valid"));
    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("InvalidName"),
        "{body}"
    );
}

#[test]
fn flag_beats_environment_beats_default() {
    let app = TestApp::new();
    let env = vec![
        ("SPIN_VARIABLE_GREETING".to_string(), "howdy".to_string()),
        (
            "SPIN_VARIABLE_API_TOKEN".to_string(),
            "from-env".to_string(),
        ),
    ];
    let host = app.config().environment(env).start().unwrap();
    let client = common::client();
    // api_token is also given as a flag by TestApp::config, and the flag wins.
    let (_, body) = get_json(&client, &host.url("/api/var?name=auth"));
    assert_eq!(body["value"], "Bearer t0k-secret");
    let (_, body) = get_json(&client, &host.url("/api/var?name=message"));
    assert_eq!(body["value"], "howdy, world");
}

#[test]
fn environment_supplies_required_variables() {
    let app = TestApp::new();
    let env = vec![
        (
            "SPIN_VARIABLE_API_TOKEN".to_string(),
            "env-token".to_string(),
        ),
        ("SPIN_VARIABLE_UPSTREAM_PORT".to_string(), "1".to_string()),
        (
            "SPIN_VARIABLE_PG_URL".to_string(),
            "postgres://x@127.0.0.1/x".to_string(),
        ),
    ];
    let host = spin_test_host::HostConfig::new(&app.manifest)
        .environment(env)
        .sqlite_default(app.sqlite_path())
        .start()
        .unwrap();
    let (_, body) = get_json(&common::client(), &host.url("/api/var?name=auth"));
    assert_eq!(body["value"], "Bearer env-token");
}

#[test]
fn missing_required_variable_is_a_startup_error_naming_it_without_secrets() {
    let app = TestApp::new();
    let error = spin_test_host::HostConfig::new(&app.manifest)
        .environment(Vec::new())
        .variable("pg_url", "postgres://user:SUPERSECRET@127.0.0.1/db")
        .variable("upstream_port", "1")
        .start()
        .err()
        .expect("startup fails");
    let text = format!("{error:#}");
    assert!(text.contains("`api_token`"), "{text}");
    assert!(text.contains("SPIN_VARIABLE_API_TOKEN"), "{text}");
    assert!(!text.contains("SUPERSECRET"), "{text}");
}
