pub mod fake_dc;
pub mod git_server;
pub mod kube_api;
pub mod pty;
pub mod sandbox;
pub mod secret_service;
pub mod tf_registry;
pub mod tls;
