//! terraform credentials helper: `parse_args`. Arguments are the input split
//! on NUL bytes, each as lossy UTF-8.
#![no_main]

use acronis_cred::protocol::terraform::{Operation, parse_args};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args: Vec<String> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    };
    match parse_args(&args) {
        Ok((op, host)) => {
            assert!(args.len() >= 2);
            let expected_op = match args[args.len() - 2].as_str() {
                "get" => Operation::Get,
                "store" => Operation::Store,
                "forget" => Operation::Forget,
                other => panic!("operation {other:?} accepted"),
            };
            assert_eq!(op, expected_op);
            assert!(!host.is_empty(), "empty host accepted");
            assert!(host.len() <= 255, "host longer than 255");
            assert!(
                host.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')),
                "host {host:?} has a byte outside [a-z0-9.-:[]_]"
            );
            assert_eq!(host, args[args.len() - 1].trim().to_ascii_lowercase());
        }
        Err(msg) => {
            assert!(!msg.is_empty());
            // The echoed operation is bounded to 40 characters (Debug-escaped).
            assert!(msg.len() <= 1024, "error message of {} bytes", msg.len());
        }
    }
});
