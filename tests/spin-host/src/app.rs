//! Loading an application: resolve variables, render allow-lists, compile each component once and pre-instantiate
//! it, so every request only has to instantiate.

use crate::allowed_hosts::AllowedHosts;
use crate::bindings::TestHost;
use crate::limits::Limits;
use crate::manifest::AppSpec;
use crate::outbound_http::HttpTimeouts;
use crate::postgres::PostgresTls;
use crate::routing::Router;
use crate::sqlite::SqliteDatabases;
use crate::state::RequestState;
use crate::stdio::OutputSink;
use crate::variables::{AppVariables, ComponentVariables, VariableSources};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::Engine;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// Host-wide settings every request can see.
pub struct HostShared {
    pub sqlite_databases: SqliteDatabases,
    pub postgres_tls: PostgresTls,
    pub outbound_http: HttpTimeouts,
    pub limits: Limits,
    pub output: OutputSink,
}

/// One HTTP component, ready to instantiate.
pub struct ComponentRuntime {
    pub id: Arc<str>,
    pub pre: ProxyPre<RequestState>,
    pub variables: ComponentVariables,
    pub allowed_hosts: Arc<AllowedHosts>,
    pub sqlite_databases: BTreeSet<String>,
}

pub struct App {
    pub name: String,
    pub engine: Engine,
    pub router: Router,
    pub components: HashMap<String, Arc<ComponentRuntime>>,
    pub shared: Arc<HostShared>,
}

pub fn load(spec: AppSpec, sources: &VariableSources, shared: HostShared) -> Result<App> {
    let app_variables = AppVariables::resolve(&spec.variables, sources)?;
    let engine = crate::limits::engine(&shared.limits)?;
    let linker = linker(&engine)?;
    let mut compiled: HashMap<PathBuf, Component> = HashMap::new();
    let mut components = HashMap::new();
    for route in &spec.routes {
        if components.contains_key(&route.component_id) {
            continue;
        }
        let component = &spec.components[&route.component_id];
        let id = component.id.as_str();
        let variables = ComponentVariables::resolve(id, &component.variables, &app_variables)?;
        let rendered = component
            .allowed_outbound_hosts
            .iter()
            .map(|entry| variables.render(entry, &app_variables))
            .collect::<Result<Vec<_>>>()
            .with_context(|| format!("component `{id}`: allowed_outbound_hosts"))?;
        let allowed_hosts =
            AllowedHosts::parse(&rendered).with_context(|| format!("component `{id}`"))?;
        for label in &component.sqlite_databases {
            if !shared.sqlite_databases.contains_key(label) {
                bail!(
                    "component `{id}` uses SQLite database `{label}`, which has no file configured"
                );
            }
        }
        let wasm = match compiled.get(&component.source) {
            Some(wasm) => wasm.clone(),
            None => {
                let wasm = Component::from_file(&engine, &component.source)
                    .map_err(anyhow::Error::from)
                    .with_context(|| {
                        format!("component `{id}`: loading {}", component.source.display())
                    })?;
                compiled.insert(component.source.clone(), wasm.clone());
                wasm
            }
        };
        let pre = linker
            .instantiate_pre(&wasm)
            .and_then(ProxyPre::new)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!("component `{id}`: linking (is it a wasi:http incoming-handler?)")
            })?;
        let runtime = ComponentRuntime {
            id: id.into(),
            pre,
            variables,
            allowed_hosts: Arc::new(allowed_hosts),
            sqlite_databases: component.sqlite_databases.iter().cloned().collect(),
        };
        components.insert(route.component_id.clone(), Arc::new(runtime));
    }
    let router = Router::new(spec.routes.iter().filter_map(|r| {
        r.route
            .as_deref()
            .map(|route| (route, r.component_id.as_str()))
    }))?;
    Ok(App {
        name: spec.name,
        engine,
        router,
        components,
        shared: Arc::new(shared),
    })
}

fn linker(engine: &Engine) -> Result<Linker<RequestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    TestHost::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
    Ok(linker)
}
