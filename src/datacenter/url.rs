//! The datacenter address: `https://host[:port]`, nothing else.

use std::fmt;
use std::net::Ipv6Addr;

use reqwest::Url;

/// A validated, normalised datacenter URL (`https://eu2-cloud.acronis.com`).
///
/// Plain `http` is accepted only for loopback hosts, so a token or a secret
/// never crosses a network in clear text; that is what local test servers use.
#[derive(Clone, PartialEq, Eq)]
pub struct DatacenterUrl {
    url: Url,
    /// `scheme://host[:port]`, no trailing slash.
    origin: String,
}

/// Which API a base URL is wanted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// Account Management API, `{dc}/api/2`.
    Account,
    /// Agent Manager API, `{dc}/api/agent_manager/v2`.
    AgentManager,
}

impl DatacenterUrl {
    pub fn parse(input: &str) -> Result<Self, String> {
        let text = input.trim();
        // A URL with user information may carry a password: never echo it.
        let text_shown =
            if text.contains('@') { "the datacenter URL".to_string() } else { format!("'{text}'") };
        if text.is_empty() {
            return Err("the datacenter URL is empty".into());
        }
        if !text.contains("://") {
            return Err(if text.contains('@') {
                "the datacenter URL has no scheme; write it as https://HOST, without a user name".to_string()
            } else {
                format!("'{text}' has no scheme; write it as https://{text}")
            });
        }
        let url = Url::parse(text).map_err(|e| format!("{text_shown} is not a valid URL: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(format!(
                    "{text_shown} uses plain http; the datacenter must be reached over https (http is accepted only for 127.0.0.1, ::1 and localhost)"
                ));
            }
            other if text.contains('@') => {
                let _ = other;
                return Err(format!("{text_shown}: unsupported scheme, use https"));
            }
            other => return Err(format!("{text_shown}: unsupported scheme '{other}', use https")),
        }
        if url.host().is_none() {
            return Err(format!("{text_shown} has no host name"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the datacenter URL must not contain a user name or password".into());
        }
        if url.path() != "/" && !url.path().is_empty() {
            // The path is not shown when the input has an '@': it may hold
            // what was meant as a password (found by the fuzz target).
            let path = if text.contains('@') { String::new() } else { format!(" ('{}')", url.path()) };
            return Err(format!(
                "{text_shown} has a path{path}; give only the datacenter, e.g. https://eu2-cloud.acronis.com"
            ));
        }
        if url.query().is_some() {
            return Err(format!("{text_shown} has a query string; give only scheme, host and port"));
        }
        if url.fragment().is_some() {
            return Err(format!("{text_shown} has a fragment ('#...'); give only scheme, host and port"));
        }
        let origin = url.origin().ascii_serialization();
        Ok(DatacenterUrl { url, origin })
    }

    /// `https://host[:port]`, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.origin
    }

    pub fn scheme(&self) -> &str {
        self.url.scheme()
    }

    /// `host` or `host:port` when the port is not the scheme's default: the
    /// form git, docker and terraform use to name a server.
    pub fn authority(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }

    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.url)
    }

    pub fn api_base(&self, api: Api) -> String {
        match api {
            Api::Account => format!("{}/api/2", self.origin),
            Api::AgentManager => format!("{}/api/agent_manager/v2", self.origin),
        }
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/api/2/idp/token", self.origin)
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        None => false,
    }
}

impl fmt::Display for DatacenterUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

impl fmt::Debug for DatacenterUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatacenterUrl({})", self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        DatacenterUrl::parse(s).map(|u| u.to_string()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match DatacenterUrl::parse(s) {
            Ok(u) => panic!("{s} was accepted as {u}"),
            Err(e) => e,
        }
    }

    #[test]
    fn normalises() {
        assert_eq!(ok("https://eu2-cloud.acronis.com"), "https://eu2-cloud.acronis.com");
        assert_eq!(ok("https://eu2-cloud.acronis.com/"), "https://eu2-cloud.acronis.com");
        assert_eq!(ok("  https://EU2-Cloud.Acronis.com/ "), "https://eu2-cloud.acronis.com");
        assert_eq!(ok("https://eu2-cloud.acronis.com:443/"), "https://eu2-cloud.acronis.com");
        assert_eq!(ok("https://dc.example:8443"), "https://dc.example:8443");
        assert_eq!(ok("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
        assert_eq!(ok("http://127.1.2.3:1"), "http://127.1.2.3:1");
        assert_eq!(ok("http://[::1]:9000"), "http://[::1]:9000");
        assert_eq!(ok("http://localhost:9000"), "http://localhost:9000");
    }

    #[test]
    fn refuses() {
        assert!(err("").contains("empty"));
        assert!(err("eu2-cloud.acronis.com").contains("https://eu2-cloud.acronis.com"));
        assert!(err("http://eu2-cloud.acronis.com").contains("plain http"));
        assert!(err("http://10.0.0.1").contains("plain http"));
        assert!(err("ftp://eu2-cloud.acronis.com").contains("scheme"));
        assert!(err("https://eu2-cloud.acronis.com/api/2").contains("path"));
        assert!(err("https://eu2-cloud.acronis.com/?a=b").contains("query"));
        assert!(err("https://eu2-cloud.acronis.com/#x").contains("fragment"));
        assert!(err("https://user:pw@eu2-cloud.acronis.com").contains("user name"));
        assert!(err("https://user@eu2-cloud.acronis.com").contains("user name"));
        assert!(err("https://").contains("valid URL") || err("https://").contains("host"));
    }

    #[test]
    fn error_does_not_echo_userinfo_password() {
        // The last three were found by the datacenter_url fuzz target.
        for input in [
            "https://user:hunter2@eu2-cloud.acronis.com",
            "http://u:hunter2@example.com",
            "ftp://u:hunter2@example.com",
            "u:hunter2@example.com",
            "https://x/:hunter2@.example",
        ] {
            let e = err(input);
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn bases_and_authority() {
        let dc = DatacenterUrl::parse("https://eu2-cloud.acronis.com/").unwrap();
        assert_eq!(dc.api_base(Api::Account), "https://eu2-cloud.acronis.com/api/2");
        assert_eq!(dc.api_base(Api::AgentManager), "https://eu2-cloud.acronis.com/api/agent_manager/v2");
        assert_eq!(dc.token_endpoint(), "https://eu2-cloud.acronis.com/api/2/idp/token");
        assert_eq!(dc.authority(), "eu2-cloud.acronis.com");
        let local = DatacenterUrl::parse("http://127.0.0.1:4567").unwrap();
        assert_eq!(local.authority(), "127.0.0.1:4567");
        assert!(local.is_loopback());
        assert!(!dc.is_loopback());
    }
}
