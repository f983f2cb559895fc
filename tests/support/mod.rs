pub mod fake_dc;
pub mod pty;
pub mod secret_service;
pub mod sandbox;
