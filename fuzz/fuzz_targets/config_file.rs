//! The config file: `toml::from_str::<Config>`, then save/load round trip
//! (`toml::to_string_pretty` is what `ConfigFile::save` writes).
#![no_main]

use acronis_cred::config::{Config, Profile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = toml::from_str::<Config>(text) else { return };

    // A file that loads must be writable again: `register`/`remove` would
    // otherwise fail on it.
    let written = toml::to_string_pretty(&config)
        .unwrap_or_else(|e| panic!("a config that loads cannot be saved: {e}"));
    let again: Config = toml::from_str(&written)
        .unwrap_or_else(|e| panic!("the saved config does not load: {e}\n--- saved ---\n{written}"));

    assert_eq!(
        config.profiles.keys().collect::<Vec<_>>(),
        again.profiles.keys().collect::<Vec<_>>(),
        "profile names changed\n--- saved ---\n{written}"
    );
    for (name, p) in &config.profiles {
        assert!(profile_eq(p, &again.profiles[name]), "profile {name:?} changed\n{p:?}\n{:?}\n--- saved ---\n{written}", again.profiles[name]);
    }
    assert!(table_eq(&config.other, &again.other), "top-level unknown keys changed\n--- saved ---\n{written}");
});

fn profile_eq(a: &Profile, b: &Profile) -> bool {
    a.datacenter == b.datacenter
        && a.client_id == b.client_id
        && a.store == b.store
        && a.token_cache == b.token_cache
        && a.registered_at == b.registered_at
        && a.updated_at == b.updated_at
        && a.rotated_at == b.rotated_at
        && table_eq(&a.other, &b.other)
}

/// `==` except that NaN equals NaN (TOML has `nan`).
fn table_eq(a: &toml::Table, b: &toml::Table) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| value_eq(v, w)))
}

fn value_eq(a: &toml::Value, b: &toml::Value) -> bool {
    use toml::Value as V;
    match (a, b) {
        (V::Float(x), V::Float(y)) => (x.is_nan() && y.is_nan()) || x == y,
        (V::Array(x), V::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| value_eq(v, w)),
        (V::Table(x), V::Table(y)) => table_eq(x, y),
        _ => a == b,
    }
}
