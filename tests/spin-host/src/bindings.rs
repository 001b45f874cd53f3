//! Host bindings for the Spin interfaces this host implements (world `spin:up/test-host@3.6.0` in ../wit).

wasmtime::component::bindgen!({
    path: "wit",
    world: "spin:up/test-host@3.6.0",
    imports: { default: async | trappable },
    with: {
        "spin:sqlite/sqlite.connection": crate::sqlite::SqliteConnection,
        "spin:postgres/postgres.connection": crate::postgres::PgConnection,
    },
});
