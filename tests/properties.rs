//! Property tests of the protocol codecs over many generated inputs: no
//! output ever carries CR, LF or NUL inside a value, and every parsed
//! request encodes back to itself. A small deterministic generator keeps the
//! runs repeatable (set PROPERTY_SEED to explore other inputs).

use acronis_cred::datacenter::DatacenterUrl;
use acronis_cred::protocol::git::{GitAnswer, GitRequest, encode_answer};
use acronis_cred::protocol::plain::{Format, render, shell_quote};
use acronis_cred::protocol::{docker, kubectl, terraform};
use acronis_cred::token::AccessToken;
use secrecy::SecretString;

struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed =
            std::env::var("PROPERTY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_acc0_u64);
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Text biased towards the characters that break line protocols.
    fn text(&mut self, max: usize) -> String {
        const NASTY: [char; 12] = ['\n', '\r', '\0', '=', ':', '"', '\'', '\\', ' ', '\u{1b}', 'é', '€'];
        let len = self.below(max + 1);
        (0..len)
            .map(|_| match self.below(4) {
                0 => NASTY[self.below(NASTY.len())],
                _ => (b'!' + self.below(94) as u8) as char,
            })
            .collect()
    }
    fn token(&mut self) -> AccessToken {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
        let len = 1 + self.below(200);
        let mut value: String = (0..len).map(|_| ALPHABET[self.below(ALPHABET.len())] as char).collect();
        value.push_str(&"=".repeat(self.below(3)));
        AccessToken::new(SecretString::from(value), 1_800_000_000).unwrap()
    }
}

const CASES: usize = 20_000;

#[test]
fn git_requests_reencode_to_themselves() {
    let mut rng = Rng::new();
    let keys = ["protocol", "host", "path", "username", "password", "capability[]", "wwwauth[]", "x"];
    let mut parsed = 0;
    for _ in 0..CASES {
        let mut input = String::new();
        for _ in 0..rng.below(6) {
            if rng.below(8) == 0 {
                input.push_str(&rng.text(10));
            } else {
                input.push_str(keys[rng.below(keys.len())]);
                input.push('=');
                input.push_str(&rng.text(20));
            }
            input.push('\n');
        }
        let Ok(request) = GitRequest::parse(input.as_bytes()) else { continue };
        parsed += 1;
        let encoded = request.encode();
        assert!(!encoded.contains(&0) && !encoded.contains(&b'\r'), "{input:?}");
        for line in encoded.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            assert!(line.contains(&b'='), "{input:?}");
        }
        assert_eq!(GitRequest::parse(&encoded).unwrap(), request, "{input:?}");
    }
    assert!(parsed > CASES / 10, "the generator rarely produced valid requests ({parsed})");
}

#[test]
fn git_answers_never_carry_line_breaks_in_values() {
    let mut rng = Rng::new();
    let mut refused = 0;
    for _ in 0..CASES {
        let caps = if rng.below(2) == 0 { "capability[]=authtype\n" } else { "" };
        let request = GitRequest::parse(format!("{caps}protocol=https\nhost=h\n").as_bytes()).unwrap();
        let token = rng.token();
        let username = rng.text(30);
        match encode_answer(
            &request,
            &GitAnswer { token: &token, username: &username, expiry: rng.below(1 << 31) as i64 },
        ) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).unwrap();
                let lines: Vec<&str> = text.split_terminator('\n').collect();
                assert_eq!(lines.len(), if caps.is_empty() { 3 } else { 5 }, "{text:?}");
                for line in lines {
                    let (key, value) = line.split_once('=').unwrap();
                    assert!(!key.is_empty() && !value.contains(['\r', '\0']), "{line:?}");
                }
            }
            Err(_) => refused += 1,
        }
    }
    assert!(refused > 0, "no unsafe user name was generated");
}

#[test]
fn json_protocol_outputs_always_parse_back() {
    let mut rng = Rng::new();
    for _ in 0..CASES {
        let token = rng.token();
        let server = rng.text(40);
        let user = rng.text(20);
        let out = docker::encode_get(&server, &user, &token);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (v["ServerURL"].as_str(), v["Username"].as_str()),
            (Some(server.as_str()), Some(user.as_str()))
        );
        assert_eq!(v["Secret"].as_str(), Some(token.expose()));
        assert_eq!(out.matches('\n').count(), 1);

        let list = docker::encode_list([(server.as_str(), user.as_str())]);
        let v: serde_json::Value = serde_json::from_str(&list).unwrap();
        assert_eq!(v[&server].as_str(), Some(user.as_str()));

        let exp = rng.below(4_000_000_000) as i64;
        let k: serde_json::Value = serde_json::from_str(&kubectl::encode(kubectl::V1, &token, exp)).unwrap();
        assert_eq!(k["status"]["token"].as_str(), Some(token.expose()));

        let t: serde_json::Value = serde_json::from_str(&terraform::encode_token(&token)).unwrap();
        assert_eq!(t["token"].as_str(), Some(token.expose()));

        let dc = DatacenterUrl::parse("https://eu2-cloud.acronis.com").unwrap();
        for format in [Format::Raw, Format::Header, Format::Json] {
            let out = render(format, &token, &dc, true);
            assert_eq!(out.matches('\n').count(), 1, "{format:?}");
            assert!(!out.contains(['\r', '\0']));
        }
    }
}

#[test]
fn shell_quoting_survives_a_real_shell() {
    let mut rng = Rng::new();
    for _ in 0..200 {
        let value: String = rng.text(30).chars().filter(|c| *c != '\0').collect();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote(&value)))
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), value, "{value:?}");
    }
}
