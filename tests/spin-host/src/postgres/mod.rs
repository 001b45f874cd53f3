//! `spin:postgres/postgres@4.0.0` backed by tokio-postgres: the `postgres://host:port` permission check on open,
//! TLS with rustls unless `sslmode=disable`, and every WIT type mapped (see `params` and `rows`).

// The error type is dictated by the WIT and returned by value, as the bindings require.
#![allow(clippy::result_large_err)]

mod codecs;
mod params;
mod rows;
mod tls;

pub use tls::PostgresTls;

use crate::bindings::spin::postgres4_0_0::postgres::{
    self as wit, Column, DbError, Error, ParameterValue, QueryError, RowSet,
};
use crate::state::RequestState;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode};
use wasmtime::component::Resource;

/// The resource behind a guest's postgres `connection` handle.
pub struct PgConnection {
    client: Arc<tokio_postgres::Client>,
}

/// Checks every host:port of the address against allowed_outbound_hosts, as Spin does.
fn check_permission(config: &tokio_postgres::Config, state: &RequestState) -> Result<(), Error> {
    let ports = config.get_ports();
    for (index, host) in config.get_hosts().iter().enumerate() {
        let port = ports
            .get(index)
            .or_else(|| ports.first())
            .copied()
            .unwrap_or(5432);
        let name = match host {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        };
        let allowed = matches!(host, Host::Tcp(_))
            && state
                .component
                .allowed_hosts
                .allows("postgres", &name, Some(port));
        if !allowed {
            tracing::warn!(component = %state.component.id, target = %format!("postgres://{name}:{port}"), "Postgres connection denied by allowed_outbound_hosts");
            return Err(Error::ConnectionFailed(format!(
                "address postgres://{name}:{port} is not permitted"
            )));
        }
    }
    Ok(())
}

async fn connect(
    mut config: tokio_postgres::Config,
    tls: &PostgresTls,
    connect_timeout: Duration,
) -> Result<tokio_postgres::Client, Error> {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(connect_timeout);
    }
    let failed = |e: tokio_postgres::Error| Error::ConnectionFailed(e.to_string());
    let client = if config.get_ssl_mode() == SslMode::Disable {
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(failed)?;
        tokio::spawn(drive(connection));
        client
    } else {
        let (client, connection) = config.connect(tls.connector()).await.map_err(failed)?;
        tokio::spawn(drive(connection));
        client
    };
    Ok(client)
}

async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(error) = connection.await {
        tracing::debug!(%error, "postgres connection ended with an error");
    }
}

fn query_failed(error: tokio_postgres::Error) -> Error {
    match error.as_db_error() {
        Some(db) => Error::QueryFailed(QueryError::DbError(DbError {
            as_text: db.to_string(),
            severity: db.severity().to_string(),
            code: db.code().code().to_string(),
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            extras: db
                .hint()
                .map(|hint| vec![("hint".to_string(), hint.to_string())])
                .unwrap_or_default(),
        })),
        None => Error::QueryFailed(QueryError::Text(error.to_string())),
    }
}

fn convert_params(values: Vec<ParameterValue>) -> Result<Vec<params::Param>, Error> {
    values
        .into_iter()
        .enumerate()
        .map(|(index, value)| params::to_param(index, value).map_err(Error::BadParameter))
        .collect()
}

fn param_refs(params: &[params::Param]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

impl RequestState {
    fn pg_client(
        &self,
        handle: &Resource<PgConnection>,
    ) -> wasmtime::Result<Arc<tokio_postgres::Client>> {
        Ok(self.table.get(handle)?.client.clone())
    }
}

impl wit::Host for RequestState {}

impl wit::HostConnection for RequestState {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<PgConnection>, Error>> {
        let config = match tokio_postgres::Config::from_str(&address) {
            Ok(config) => config,
            Err(error) => {
                return Ok(Err(Error::ConnectionFailed(format!(
                    "invalid address: {error}"
                ))))
            }
        };
        if let Err(denied) = check_permission(&config, self) {
            return Ok(Err(denied));
        }
        Ok(
            match connect(
                config,
                &self.host.postgres_tls,
                self.host.outbound_http.connect,
            )
            .await
            {
                Ok(client) => Ok(self.table.push(PgConnection {
                    client: Arc::new(client),
                })?),
                Err(error) => Err(error),
            },
        )
    }

    async fn query(
        &mut self,
        handle: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        let client = self.pg_client(&handle)?;
        Ok(run_query(&client, &statement, params).await)
    }

    async fn execute(
        &mut self,
        handle: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, Error>> {
        let client = self.pg_client(&handle)?;
        let params = match convert_params(params) {
            Ok(params) => params,
            Err(error) => return Ok(Err(error)),
        };
        Ok(client
            .execute(&statement, &param_refs(&params))
            .await
            .map_err(query_failed))
    }

    async fn drop(&mut self, handle: Resource<PgConnection>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

async fn run_query(
    client: &tokio_postgres::Client,
    statement: &str,
    params: Vec<ParameterValue>,
) -> Result<RowSet, Error> {
    let params = convert_params(params)?;
    let prepared = client.prepare(statement).await.map_err(query_failed)?;
    let result = client
        .query(&prepared, &param_refs(&params))
        .await
        .map_err(query_failed)?;
    let columns = prepared
        .columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_string(),
            data_type: rows::data_type(c.type_()),
        })
        .collect();
    let rows = result
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| rows::db_value(row, i))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::ValueConversionFailed)?;
    Ok(RowSet { columns, rows })
}
