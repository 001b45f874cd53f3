//! Test support: throwaway PostgreSQL clusters, free ports and component builds.
