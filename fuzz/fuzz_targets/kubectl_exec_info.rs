//! kubectl exec plugin: `requested_api_version(KUBERNETES_EXEC_INFO)`.
#![no_main]

use acronis_cred::protocol::kubectl::{V1, V1BETA1, requested_api_version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match requested_api_version(Some(text)) {
        Ok(v) => {
            assert!(v == V1 || v == V1BETA1, "unexpected apiVersion {v:?}");
            if !text.trim().is_empty() {
                // It must be the version the JSON asked for, not a default.
                let json: serde_json::Value = serde_json::from_str(text.trim()).expect("accepted non-JSON");
                assert_eq!(json.get("apiVersion").and_then(|a| a.as_str()), Some(v));
            } else {
                assert_eq!(v, V1);
            }
        }
        Err(msg) => {
            // The echoed apiVersion is bounded to 80 characters.
            assert!(msg.len() <= 1024, "error message of {} bytes", msg.len());
        }
    }
});
