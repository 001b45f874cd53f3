//! Per-request store state: WASI, wasi-http with the allow-list hooks, the resource table, and what the Spin
//! interfaces need to know about the component. Also home of `fermyon:spin/variables`.

use crate::app::{ComponentRuntime, HostShared};
use crate::bindings::fermyon::spin2_0_0::variables::{self, Error as VariableWitError};
use crate::outbound_http::OutboundHttpHooks;
use crate::stdio::{ComponentOutput, Stream};
use crate::variables::VariableError;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundHttpHooks,
    pub(crate) table: ResourceTable,
    pub(crate) component: Arc<ComponentRuntime>,
    pub(crate) host: Arc<HostShared>,
    /// The opt-in memory cap (`Limits::memory_bytes`); unlimited by default, as in Spin.
    pub(crate) store_limits: wasmtime::StoreLimits,
}

impl RequestState {
    pub fn new(component: Arc<ComponentRuntime>, host: Arc<HostShared>) -> Self {
        // Like Spin: no environment, no arguments, no preopened directories; stdio goes to the host, prefixed.
        let wasi = WasiCtx::builder()
            .stdout(ComponentOutput::new(
                component.id.clone(),
                Stream::Stdout,
                host.output.clone(),
            ))
            .stderr(ComponentOutput::new(
                component.id.clone(),
                Stream::Stderr,
                host.output.clone(),
            ))
            .build();
        let hooks = OutboundHttpHooks {
            component_id: component.id.clone(),
            allowed: component.allowed_hosts.clone(),
            timeouts: host.outbound_http,
        };
        let store_limits = crate::limits::store_limits(&host.limits);
        RequestState {
            store_limits,
            wasi,
            http: WasiHttpCtx::new(),
            hooks,
            table: ResourceTable::new(),
            component,
            host,
        }
    }
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl variables::Host for RequestState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, VariableWitError>> {
        Ok(self
            .component
            .variables
            .get(&name)
            .map_err(|error| match error {
                VariableError::InvalidName(message) => VariableWitError::InvalidName(message),
                VariableError::Undefined(message) => VariableWitError::Undefined(message),
            }))
    }
}
