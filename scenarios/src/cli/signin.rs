//! How the migration commands sign in: a token handed in whole (`--token-file`,
//! `PARTNER_CENTER_TOKEN`), or OAuth 2.0 against `--authority` (app + user from a refresh
//! token, app-only client credentials, or a device code for a person at the terminal).
//! Secrets come only from files or environment variables, never from the command line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail};
use chrono::{DateTime, Utc};
use skuswap_migrator::client::{Authority, Clock, Credentials, Fixed, Grant, Http, OAuth, RealTime, Secret};

/// The sign-in flows.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// A bearer token from --token-file or PARTNER_CENTER_TOKEN, used as it is.
    Token,
    /// App + user (Partner Center's secure application model): client id, client secret and a
    /// consented user's refresh token, exchanged for access tokens as they expire.
    RefreshToken,
    /// App only (client credentials): some Partner Center routes refuse it.
    App,
    /// A person signs in in a browser with a code shown here; renewed silently afterwards.
    DeviceCode,
}

/// Sign-in flags (shared by every command that talks to Partner Center).
#[derive(clap::Args, Debug, Clone)]
pub struct SignIn {
    /// How to sign in.
    #[arg(long, value_enum, env = "PARTNER_CENTER_SIGN_IN", default_value = "token")]
    pub sign_in: Flow,
    /// A file holding the bearer token (otherwise PARTNER_CENTER_TOKEN). For --sign-in token.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The OAuth authority: Azure AD's, or `skuswap serve`'s URL to test offline.
    #[arg(long, env = "PARTNER_CENTER_AUTHORITY", default_value = "https://login.microsoftonline.com")]
    pub authority: String,
    /// The partner's Azure AD tenant (id or domain). Default: organizations (device code only).
    #[arg(long, env = "PARTNER_CENTER_TENANT")]
    pub tenant: Option<String>,
    /// The app registration's client (application) id. Not a secret.
    #[arg(long, env = "PARTNER_CENTER_CLIENT_ID")]
    pub client_id: Option<String>,
    /// A file holding the client secret (otherwise PARTNER_CENTER_CLIENT_SECRET).
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// A file holding the refresh token (otherwise PARTNER_CENTER_REFRESH_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub refresh_token_file: Option<PathBuf>,
    /// The resource tokens are asked for.
    #[arg(long, default_value = "https://api.partnercenter.microsoft.com")]
    pub resource: String,
}

impl Flow {
    fn name(self) -> &'static str {
        match self {
            Flow::Token => "token",
            Flow::RefreshToken => "refresh-token",
            Flow::App => "app",
            Flow::DeviceCode => "device-code",
        }
    }
}

/// The wall clock, for token expiry in a real run.
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Client secrets and refresh tokens go only over HTTPS, or to a server on this machine.
fn refuse_cleartext(authority: &str) -> anyhow::Result<()> {
    if !authority.starts_with("http://") || super::target::on_this_machine(authority) {
        return Ok(());
    }
    bail!("--authority {authority}: secrets are sent only over https:// (or to http:// on this machine)")
}

/// A secret from `file`, else from the environment variable `var`.
fn secret(file: Option<&Path>, var: &str, what: &str, flag: &str) -> anyhow::Result<Secret> {
    let value = match file {
        Some(f) => {
            std::fs::read_to_string(f).map_err(|e| anyhow!("cannot read the {what} file {}: {e}", f.display()))?
        }
        None => std::env::var(var).unwrap_or_default(),
    };
    let value = value.trim();
    if value.is_empty() {
        bail!("no {what}: pass {flag} FILE or set {var}");
    }
    Ok(Secret::new(value))
}

impl SignIn {
    /// The credentials for this run; `ca_pem` is trusted for the authority too.
    pub fn credentials(&self, ca_pem: Option<&[u8]>) -> anyhow::Result<Arc<dyn Credentials>> {
        if self.sign_in == Flow::Token {
            let token = secret(self.token_file.as_deref(), "PARTNER_CENTER_TOKEN", "token", "--token-file").map_err(|e| {
                anyhow!("{e} (`skuswap serve` prints a token; or sign in with --sign-in refresh-token|app|device-code, or use --mock SCENARIO)")
            })?;
            return Ok(Arc::new(Fixed(token)));
        }
        refuse_cleartext(&self.authority)?;
        let client_id = self.client_id.clone().filter(|c| !c.trim().is_empty()).ok_or_else(|| {
            anyhow!("--sign-in {} needs --client-id (or PARTNER_CENTER_CLIENT_ID)", self.sign_in.name())
        })?;
        let client_secret = || {
            secret(
                self.client_secret_file.as_deref(),
                "PARTNER_CENTER_CLIENT_SECRET",
                "client secret",
                "--client-secret-file",
            )
        };
        let (grant, default_tenant) = match self.sign_in {
            Flow::RefreshToken => {
                let refresh_token = secret(
                    self.refresh_token_file.as_deref(),
                    "PARTNER_CENTER_REFRESH_TOKEN",
                    "refresh token",
                    "--refresh-token-file",
                )?;
                (Grant::RefreshToken { client_id, client_secret: client_secret()?, refresh_token }, None)
            }
            Flow::App => (Grant::ClientCredentials { client_id, client_secret: client_secret()? }, None),
            Flow::DeviceCode | Flow::Token => (Grant::DeviceCode { client_id }, Some("organizations")),
        };
        let tenant =
            self.tenant.clone().or(default_tenant.map(str::to_string)).ok_or_else(|| {
                anyhow!("--sign-in {} needs --tenant (or PARTNER_CENTER_TENANT)", self.sign_in.name())
            })?;
        let transport = Http::trusting(&self.authority, ca_pem).map_err(|e| anyhow!("--authority: {e}"))?;
        let authority = Authority { url: self.authority.clone(), tenant, resource: self.resource.clone() };
        Ok(Arc::new(OAuth::new(transport, authority, grant, Arc::new(WallClock), Arc::new(RealTime))))
    }
}
