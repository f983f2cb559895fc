//! The few Account Management API calls rotation needs, all documented:
//! `GET`, `POST` and `DELETE /api/2/clients`.

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::SecretString;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::token::AccessToken;

use super::http::{self, HttpSettings};
use super::{Api, DatacenterUrl, platform_message};

/// What rotation needs to know about an API client.
pub struct ClientInfo {
    pub tenant_id: String,
    pub name: Option<String>,
}

/// A client created by [`AccountApi::create_client`]. Not `Debug`.
pub struct NewClient {
    pub client_id: String,
    pub secret: SecretString,
}

pub struct AccountApi<'a> {
    pub datacenter: &'a DatacenterUrl,
    pub settings: &'a HttpSettings,
    pub token: &'a AccessToken,
}

#[derive(Deserialize)]
struct ClientBody {
    tenant_id: Option<String>,
    data: Option<ClientData>,
}

#[derive(Deserialize)]
struct ClientData {
    client_name: Option<String>,
}

#[derive(Deserialize)]
struct CreatedBody {
    client_id: Option<String>,
    client_secret: Option<SecretString>,
}

impl AccountApi<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.datacenter.api_base(Api::Account))
    }

    fn bearer(&self) -> Result<HeaderValue> {
        let text = Zeroizing::new(format!("Bearer {}", self.token.expose()));
        let mut value = HeaderValue::from_str(&text).map_err(|_| Error::unexpected("unusable token"))?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn send_raw(&self, request: reqwest::blocking::RequestBuilder) -> Result<(u16, Zeroizing<Vec<u8>>)> {
        let deadline = std::time::Instant::now() + self.settings.timeout;
        let response = request
            .header(AUTHORIZATION, self.bearer()?)
            .header(ACCEPT, "application/json")
            .send()
            .map_err(|e| http::transport_error(self.datacenter, &e))?;
        let status = response.status().as_u16();
        Ok((status, Zeroizing::new(http::read_body(response, deadline)?)))
    }

    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
        what: &str,
    ) -> Result<(u16, Zeroizing<Vec<u8>>)> {
        match self.send_raw(request)? {
            (status @ 200..=299, body) => Ok((status, body)),
            (status, body) => Err(api_error(status, &body, what)),
        }
    }

    pub fn get_client(&self, client_id: &str) -> Result<ClientInfo> {
        let client = http::client(self.datacenter, self.settings)?;
        let (_, body) =
            self.send(client.get(self.url(&format!("/clients/{client_id}"))), "read the API client")?;
        let parsed: ClientBody = serde_json::from_slice(&body)
            .map_err(|_| Error::unavailable("the datacenter's client record is not the expected JSON"))?;
        let tenant_id = parsed
            .tenant_id
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::unavailable("the datacenter's client record has no tenant_id"))?;
        Ok(ClientInfo { tenant_id, name: parsed.data.and_then(|d| d.client_name) })
    }

    pub fn create_client(&self, tenant_id: &str, name: &str) -> Result<NewClient> {
        let client = http::client(self.datacenter, self.settings)?;
        let body = serde_json::json!({
            "type": "api_client",
            "tenant_id": tenant_id,
            "token_endpoint_auth_method": "client_secret_basic",
            "data": { "client_name": name },
        });
        let request =
            client.post(self.url("/clients")).header(CONTENT_TYPE, "application/json").body(body.to_string());
        let (_, answer) = self.send(request, "create an API client")?;
        let parsed: CreatedBody = serde_json::from_slice(&answer).map_err(|_| {
            Error::unavailable("the datacenter's answer to creating a client is not the expected JSON")
        })?;
        match (parsed.client_id, parsed.client_secret) {
            (Some(client_id), Some(secret)) if crate::config::check_client_id(&client_id).is_ok() => {
                Ok(NewClient { client_id, secret })
            }
            _ => Err(Error::unavailable(
                "the datacenter created a client but did not return a usable id and secret",
            )),
        }
    }

    /// Deletes a client; one that is already gone counts as deleted.
    pub fn delete_client(&self, client_id: &str) -> Result<()> {
        let client = http::client(self.datacenter, self.settings)?;
        match self.send_raw(client.delete(self.url(&format!("/clients/{client_id}"))))? {
            (200..=299 | 404, _) => Ok(()),
            (status, body) => Err(api_error(status, &body, "delete the API client")),
        }
    }
}

fn api_error(status: u16, body: &[u8], what: &str) -> Error {
    let detail = platform_message(body).map(|m| format!(": {m}")).unwrap_or_default();
    let message = format!("cannot {what} (HTTP {status}{detail})");
    match status {
        401 => Error::rejected(message).with_hint("the token was refused; the client may be disabled"),
        403 => Error::rejected(message)
            .with_hint("the API client lacks the right to manage API clients in its tenant"),
        429 | 500..=599 => Error::unavailable(message).with_hint("try again in a moment"),
        _ => Error::unexpected(message),
    }
}
