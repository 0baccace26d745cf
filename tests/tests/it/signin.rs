//! The mock's own sign-in authority and the engine's OAuth client against it: every flow
//! (refresh token, client credentials, device code), renewal before expiry and after a 401,
//! and the OAuth error answers. In-process; the clock is the mock's virtual one.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use chrono::{DateTime, Utc};
use mock_server::Mock;
use serde_json::Value;
use skuswap_migrator::client::{
    Authority, ClientError, Clock, Grant, InProcess, OAuth, PartnerCenter, Pause, RestClient, Secret,
};
use skuswap_tests::{Harness, TestResult, article::*, engine::quick_policy};

/// The mock's virtual clock, as the client's expiry clock.
struct Virtual(Mock);

impl Clock for Virtual {
    fn now(&self) -> DateTime<Utc> {
        self.0.read(|w| w.now())
    }
}

/// A clock stuck at one instant: the client never sees its token age, so only a 401 renews.
struct Stuck(DateTime<Utc>);

impl Clock for Stuck {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Device-code polls without real waiting.
struct Quick;

impl Pause for Quick {
    fn pause(&self, _: Duration) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(Duration::from_millis(2)))
    }
}

struct App {
    client_id: String,
    secret: String,
    refresh: String,
}

async fn register(h: &Harness, lifetime: u32) -> Result<App, Box<dyn std::error::Error>> {
    let r = h.post("/admin/apps", &format!(r#"{{"tokenLifetimeSeconds":{lifetime}}}"#)).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    let s = |k: &str| r.body[k].as_str().map(str::to_string).ok_or(format!("no {k}"));
    Ok(App { client_id: s("clientId")?, secret: s("clientSecret")?, refresh: s("refreshToken")? })
}

type Client = RestClient<InProcess<axum::Router>>;

fn client(h: &Harness, grant: Grant, clock: Arc<dyn Clock>) -> (Client, Arc<OAuth<InProcess<axum::Router>>>) {
    let authority = Authority {
        url: "mock".into(),
        tenant: PARTNER.into(),
        resource: "https://api.partnercenter.microsoft.com".into(),
    };
    let oauth = Arc::new(OAuth::new(InProcess::new(h.app.clone()), authority, grant, clock, Arc::new(Quick)));
    (RestClient::with_credentials(InProcess::new(h.app.clone()), oauth.clone(), quick_policy()), oauth)
}

fn refresh_grant(app: &App) -> Grant {
    Grant::RefreshToken {
        client_id: app.client_id.clone(),
        client_secret: Secret::new(app.secret.clone()),
        refresh_token: Secret::new(app.refresh.clone()),
    }
}

async fn advance_minutes(h: &Harness, minutes: i64) {
    let r = h.post("/admin/clock/advance", &format!(r#"{{"minutes":{minutes}}}"#)).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
}

#[tokio::test]
async fn refresh_token_sign_in_renews_before_expiry_through_hours_of_virtual_time() -> TestResult {
    let h = Harness::article()?;
    let app = register(&h, 300).await?;
    let (pc, _) = client(&h, refresh_grant(&app), Arc::new(Virtual(h.mock.clone())));
    assert_eq!(pc.customers().await?.len(), 3);
    // Four virtual minutes at a time through three hours: every read works, and the token is
    // renewed ahead of its five-minute lifetime each time it is close.
    for _ in 0..45 {
        advance_minutes(&h, 4).await;
        assert_eq!(pc.subscriptions(WINGTIP).await?.len(), 2);
    }
    assert!(pc.token_renewals() >= 30, "renewed {} times", pc.token_renewals());
    // app+user: the delegated-only routes answer.
    assert!(!pc.subscribed_skus(WINGTIP).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_after_the_401() -> TestResult {
    let h = Harness::article()?;
    let app = register(&h, 300).await?;
    let now = h.mock.read(|w| w.now());
    let (pc, _) = client(&h, refresh_grant(&app), Arc::new(Stuck(now)));
    assert_eq!(pc.customers().await?.len(), 3);
    advance_minutes(&h, 10).await;
    let before = pc.requests_sent();
    assert_eq!(pc.customers().await?.len(), 3);
    assert_eq!(pc.token_renewals(), 1);
    assert_eq!(pc.requests_sent() - before, 2, "one refused with 401, one sent again");
    // The resend is not an attempt of its own: a client allowed one attempt still gets there.
    let authority = Authority { url: "mock".into(), tenant: PARTNER.into(), resource: "r".into() };
    let oauth = OAuth::new(
        InProcess::new(h.app.clone()),
        authority,
        refresh_grant(&app),
        Arc::new(Stuck(now)),
        Arc::new(Quick),
    );
    let once = RestClient::with_credentials(
        InProcess::new(h.app.clone()),
        Arc::new(oauth),
        skuswap_migrator::client::RetryPolicy { max_attempts: 1, ..quick_policy() },
    );
    advance_minutes(&h, 10).await;
    assert_eq!(once.customers().await?.len(), 3);
    assert_eq!(once.token_renewals(), 0, "the first token was minted after the clock moved");
    advance_minutes(&h, 10).await;
    assert_eq!(once.customers().await?.len(), 3);
    assert_eq!(once.token_renewals(), 1);
    Ok(())
}

/// The authority's transport fails `failures` times, then passes requests on.
struct Flaky<T> {
    inner: T,
    failures: std::sync::atomic::AtomicU32,
}

impl<T: skuswap_migrator::client::Transport> skuswap_migrator::client::Transport for Flaky<T> {
    async fn send(
        &self,
        req: skuswap_migrator::client::Outgoing,
    ) -> Result<skuswap_migrator::client::Incoming, skuswap_migrator::client::TransportError> {
        let left = self.failures.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err(skuswap_migrator::client::TransportError::NotSent("connection refused".into()));
        }
        self.inner.send(req).await
    }
}

#[tokio::test]
async fn a_blip_at_the_authority_is_retried_and_a_long_outage_stops_nothing_for_good() -> TestResult {
    let h = Harness::article()?;
    let app = register(&h, 300).await?;
    let authority = || Authority { url: "mock".into(), tenant: PARTNER.into(), resource: "r".into() };
    let flaky = Flaky { inner: InProcess::new(h.app.clone()), failures: 3.into() };
    let oauth = OAuth::new(flaky, authority(), refresh_grant(&app), Arc::new(Virtual(h.mock.clone())), Arc::new(Quick));
    let pc = RestClient::with_credentials(InProcess::new(h.app.clone()), Arc::new(oauth), quick_policy());
    assert_eq!(pc.customers().await?.len(), 3, "three refused connections to the authority, then a token");
    // An authority down for good: the call has no clear answer (unclear, so a step is left for
    // the next run), not a refused token that would stop the whole migration.
    let down = Flaky { inner: InProcess::new(h.app.clone()), failures: 1_000.into() };
    let oauth = OAuth::new(down, authority(), refresh_grant(&app), Arc::new(Virtual(h.mock.clone())), Arc::new(Quick));
    let pc = RestClient::with_credentials(InProcess::new(h.app.clone()), Arc::new(oauth), quick_policy());
    let e = pc.customers().await.err().ok_or("signed in without an authority")?;
    assert!(e.is_unclear() && matches!(e, ClientError::SignIn { .. }), "{e}");
    Ok(())
}

#[tokio::test]
async fn client_credentials_give_an_app_only_token() -> TestResult {
    let h = Harness::article()?;
    let app = register(&h, 3600).await?;
    let grant = Grant::ClientCredentials { client_id: app.client_id.clone(), client_secret: Secret::new(app.secret) };
    let (pc, _) = client(&h, grant, Arc::new(Virtual(h.mock.clone())));
    assert_eq!(pc.customers().await?.len(), 3);
    let e = pc.subscribed_skus(WINGTIP).await.err().ok_or("app-only read an app+user route")?;
    assert_eq!(e.code(), Some("2032"), "{e}");
    Ok(())
}

#[tokio::test]
async fn device_code_sign_in_waits_for_the_person_then_renews_silently() -> TestResult {
    let h = Harness::article()?;
    let app = register(&h, 300).await?;
    let (codes, mut shown) = tokio::sync::mpsc::unbounded_channel();
    let authority = Authority {
        url: "mock".into(),
        tenant: "organizations".into(),
        resource: "https://api.partnercenter.microsoft.com".into(),
    };
    let oauth = OAuth::new(
        InProcess::new(h.app.clone()),
        authority,
        Grant::DeviceCode { client_id: app.client_id.clone() },
        Arc::new(Virtual(h.mock.clone())),
        Arc::new(Quick),
    )
    .with_prompt(move |p| {
        let _ = codes.send((p.user_code.clone(), p.verification_uri.clone(), p.message.clone()));
    });
    let pc = Arc::new(RestClient::with_credentials(InProcess::new(h.app.clone()), Arc::new(oauth), quick_policy()));
    let reader = {
        let pc = pc.clone();
        tokio::spawn(async move { pc.customers().await })
    };
    let (code, uri, message) = shown.recv().await.ok_or("no prompt")?;
    assert!(uri.ends_with("/devicelogin") && message.contains(&code), "{uri} {message}");
    // The person has not entered the code yet: the client keeps polling.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!reader.is_finished());
    let page = h.send(Method::GET, "/devicelogin", None, &[]).await;
    assert!(page.text.contains("user_code"), "{}", page.text);
    let wrong = h
        .send(
            Method::POST,
            "/devicelogin",
            Some("user_code=NOPE-NOPE"),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(wrong.status.as_u16(), 400);
    let typed = code.to_lowercase().replace('-', "");
    let ok = h
        .send(
            Method::POST,
            "/devicelogin",
            Some(&format!("user_code={typed}")),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(ok.status.as_u16(), 200, "{}", ok.text);
    assert_eq!(reader.await??.len(), 3);
    // Later the refresh token it came with renews without asking the person again.
    advance_minutes(&h, 10).await;
    assert!(!pc.subscribed_skus(WINGTIP).await?.is_empty());
    assert_eq!(pc.token_renewals(), 1);
    assert!(shown.try_recv().is_err(), "asked the person twice");
    Ok(())
}

async fn token_form(h: &Harness, form: &str) -> (u16, Value) {
    let r = h
        .send(
            Method::POST,
            "/anything/oauth2/v2.0/token",
            Some(form),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    (r.status.as_u16(), r.body)
}

#[tokio::test]
async fn the_token_endpoint_answers_oauth_errors_and_issues_nothing() -> TestResult {
    let h = Harness::article()?;
    let app = register(&h, 300).await?;
    let before = h.mock.read(|w| w.events().len());
    let id = &app.client_id;
    let cases = [
        (format!("grant_type=client_credentials&client_id={id}&client_secret=wrong"), 401, "invalid_client"),
        (
            format!("grant_type=client_credentials&client_id=unknown&client_secret={}", app.secret),
            401,
            "invalid_client",
        ),
        (
            format!("grant_type=refresh_token&client_id={id}&client_secret={}&refresh_token=stolen", app.secret),
            400,
            "invalid_grant",
        ),
        (format!("grant_type=refresh_token&client_id={id}&refresh_token={}", app.refresh), 401, "invalid_client"),
        // The client is checked first: a wrong secret learns nothing of the refresh token.
        (
            format!("grant_type=refresh_token&client_id={id}&client_secret=wrong&refresh_token=stolen"),
            401,
            "invalid_client",
        ),
        (format!("grant_type=password&client_id={id}"), 400, "unsupported_grant_type"),
        (
            format!("grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id={id}&device_code=nope"),
            400,
            "invalid_grant",
        ),
        ("client_id=x".to_string(), 400, "invalid_request"),
        ("%%%".to_string(), 400, "invalid_request"),
    ];
    for (form, status, error) in cases {
        let (got, body) = token_form(&h, &form).await;
        assert_eq!((got, body["error"].as_str()), (status, Some(error)), "{form}: {body}");
        assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    }
    // A JSON body is not a form.
    let r = h.post("/anything/oauth2/v2.0/token", r#"{"grant_type":"client_credentials"}"#).await;
    assert_eq!((r.status.as_u16(), r.body["error"].as_str()), (400, Some("invalid_request")));
    // A device code that nobody entered, then one that ran out.
    let start = h
        .send(
            Method::POST,
            "/t/oauth2/v2.0/devicecode",
            Some(&format!("client_id={id}&scope=x")),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    let device = start.body["device_code"].as_str().ok_or("no device code")?.to_string();
    let poll = format!("grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id={id}&device_code={device}");
    assert_eq!(token_form(&h, &poll).await.1["error"], "authorization_pending");
    advance_minutes(&h, 16).await;
    assert_eq!(token_form(&h, &poll).await.1["error"], "expired_token");
    let issued = h.mock.read(|w| w.events()[before..].iter().filter(|e| e.kind.name() == "TokenIssued").count());
    assert_eq!(issued, 0, "a refused sign-in issued a token");
    // Bad registrations are refused and register nothing.
    for body in [
        r#"{"tokenLifetimeSeconds":5}"#,
        r#"{"tokenLifetimeSeconds":999999}"#,
        r#"{"partnerId":"nope"}"#,
        r#"{"lifetime":60}"#,
    ] {
        let r = h.post("/admin/apps", body).await;
        assert_eq!(r.status.as_u16(), 400, "{body}: {}", r.text);
    }
    assert_eq!(h.mock.read(|w| w.authority().apps().len()), 1);
    Ok(())
}

#[tokio::test]
async fn secrets_never_reach_the_audit_log() -> TestResult {
    let h = Harness::article()?;
    let app = register(&h, 300).await?;
    let (pc, _) = client(&h, refresh_grant(&app), Arc::new(Virtual(h.mock.clone())));
    pc.customers().await?;
    let log = h.get("/admin/events?format=text").await.text + &h.get("/admin/events").await.text;
    for secret in [&app.secret, &app.refresh] {
        assert!(!log.contains(secret.as_str()), "a secret is in the audit log");
    }
    assert!(log.contains("TokenIssued"));
    // A refused token reads as the token being refused, not as an unknown outcome.
    let (bad, _) = client(
        &h,
        Grant::ClientCredentials { client_id: app.client_id.clone(), client_secret: Secret::new("s3cr3t-never-shown") },
        Arc::new(Virtual(h.mock.clone())),
    );
    let e = bad.customers().await.err().ok_or("signed in with a wrong secret")?;
    assert!(matches!(e, ClientError::SignIn { .. }) && e.to_string().contains("invalid_client"), "{e}");
    assert!(!format!("{e:?}").contains("s3cr3t-never-shown"), "the secret is in the error's Debug: {e:?}");
    Ok(())
}
