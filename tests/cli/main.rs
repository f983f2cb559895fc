//! End-to-end tests of the `acronis-cred` binary against real parts: a fake
//! datacenter over real HTTP on 127.0.0.1, a private gnome-keyring Secret
//! Service on a private D-Bus, and the kernel keyring.

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

mod cache;
mod doctor;
mod env_source;
mod errors;
mod faults;
mod hardening;
mod memory;
mod protocols;
mod register;
mod rotation;
mod status;
mod token;

/// Defines `NAME::secret_service` and `NAME::keyutils` tests from one
/// function taking the backend.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn secret_service() {
                super::$name($crate::support::sandbox::Backend::SecretService)
            }
            #[test]
            fn keyutils() {
                super::$name($crate::support::sandbox::Backend::Keyutils)
            }
        }
    )*};
}
