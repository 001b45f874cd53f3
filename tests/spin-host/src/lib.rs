//! A wasmtime host that runs Fleet's Spin components with Spin's semantics, for tests, benchmarks and the local run.
