//! `skuswap capture`: a capture of `serve --scenario X` rehearses to the same plan as X, for
//! every named scenario, with and without pseudonymisation; a pseudonymised capture holds no
//! original name, domain or id; capture sends only GETs and keeps to its rate; an interrupted
//! capture resumes to the same book; the bulk migration tool's CSV round-trips.
//!
//! `distributor` is captured at `SKUSWAP_CAPTURE_CUSTOMERS` customers (default 1000).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use mock_server::model::{Scenario, World};
use serde_json::Value;
use skuswap_migrator::client::{InProcess, Incoming, Outgoing, RestClient, Transport, TransportError};
use skuswap_scenarios::capture::{self, Pseudonyms, Rename, bam};
use skuswap_scenarios::cli::capture::{CaptureArgs, Paced};
use skuswap_scenarios::named;
use skuswap_scenarios::rehearsal::{Options, Rehearsal, rehearse};
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn options() -> Options {
    skuswap_tests::rehearsal_options()
}

/// Records every method sent (to prove capture only reads).
struct Recording<T> {
    inner: T,
    methods: Arc<Mutex<Vec<String>>>,
}

impl<T: Transport> Transport for Recording<T> {
    async fn send(&self, req: Outgoing) -> Result<Incoming, TransportError> {
        self.methods.lock().unwrap_or_else(|p| p.into_inner()).push(req.method.to_string());
        self.inner.send(req).await
    }
}

/// `serve --scenario X` in-process: the world `serve` builds, the mock with the named
/// scenarios, and its token.
fn served(scenario: &Scenario) -> Result<(mock_server::Mock, axum::Router, String), Box<dyn std::error::Error>> {
    let mut world = World::from_scenario(scenario, None)?;
    let token = mock_server::mint_token(&mut world, None, mock_server::model::TokenMode::AppUser, None)?;
    let mock = named::mock(world);
    let app = mock_server::app(mock.clone());
    Ok((mock, app, token))
}

async fn capture_of(scenario: &Scenario, key: Option<&Pseudonyms>) -> Result<Scenario, Box<dyn std::error::Error>> {
    let (mock, app, token) = served(scenario)?;
    let pc = RestClient::new(InProcess::new(app), token, skuswap_tests::engine::quick_policy());
    let start = mock.read(|w| w.now());
    let book = capture::book(&pc, start, &Rename(key), Vec::new(), &mut ()).await?;
    let captured = book.scenario("capture", "a test capture".into());
    // Through the file format, as `rehearse FILE` would read it.
    Ok(serde_json::from_str(&serde_json::to_string(&captured)?)?)
}

/// The first wave's plan, as compared: per planned customer its deadline, at-risk flag, steps
/// and customer actions (names, principal names, purchase tags and estimates left out).
/// Prospects are left out: a capture sees only the partner's customers, so it cannot invite.
fn plan_of(r: &Rehearsal) -> Result<Value, Box<dyn std::error::Error>> {
    let wave = r.waves.first().ok_or("no wave")?;
    let mut customers = Vec::new();
    let invited = |c: &&skuswap_migrator::plan::CustomerPlan| {
        c.actions.iter().any(|a| matches!(a, skuswap_migrator::plan::CustomerAction::AcceptInvitation { .. }))
    };
    for c in wave.plan.customers.iter().filter(|c| !c.steps.is_empty() || !c.actions.is_empty()).filter(|c| !invited(c))
    {
        let mut v = serde_json::to_value(c)?;
        if let Some(o) = v.as_object_mut() {
            o.remove("name");
            o.remove("estimatedCompletion");
        }
        for step in v["steps"].as_array_mut().into_iter().flatten() {
            if let Some(o) = step.as_object_mut() {
                o.remove("tag");
                o.remove("userPrincipalName");
            }
        }
        customers.push(v);
    }
    Ok(Value::Array(customers))
}

/// Every customer, user, subscription and order id of a scenario's world (ids the document
/// leaves out are drawn from its seed).
fn ids(s: &Scenario) -> Result<BTreeSet<Uuid>, Box<dyn std::error::Error>> {
    let world = World::from_scenario(s, None)?;
    let mut out = BTreeSet::new();
    for c in world.all_customers() {
        out.insert(c.id);
        out.extend(c.subscriptions.keys());
        out.extend(c.orders.keys());
        out.extend(c.users.keys());
    }
    Ok(out)
}

/// A plan with its customers, and each kind of step, in a canonical order: pseudonymised ids
/// sort differently, and the engine orders independent steps (and customers with the same
/// deadline) by id.
fn canonical(plan: &Value) -> Value {
    let mut customers: Vec<Value> = plan.as_array().cloned().unwrap_or_default();
    for c in &mut customers {
        if let Some(steps) = c["steps"].as_array_mut() {
            let rank = |s: &Value| match s["kind"].as_str() {
                Some("buy") => 0,
                Some("swap") => 1,
                _ => 2,
            };
            steps.sort_by_key(|s| (rank(s), s.to_string()));
        }
    }
    customers.sort_by_key(|c| c["customerId"].to_string());
    Value::Array(customers)
}

/// `v` with every id of `originals` replaced by its pseudonym.
fn renamed(v: &Value, originals: &BTreeSet<Uuid>, p: &Pseudonyms) -> Value {
    match v {
        Value::String(s) => match Uuid::try_parse(s) {
            Ok(id) if originals.contains(&id) => Value::String(p.id(id).to_string()),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| renamed(x, originals, p)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), renamed(x, originals, p))).collect()),
        other => other.clone(),
    }
}

/// Where two plans first differ, briefly (the whole plans are too long to read).
fn difference(got: &Value, want: &Value) -> String {
    let (g, w) = (got.as_array().cloned().unwrap_or_default(), want.as_array().cloned().unwrap_or_default());
    if g.len() != w.len() {
        let ids = |v: &[Value]| v.iter().map(|c| c["customerId"].to_string()).collect::<Vec<_>>();
        return format!("{} customers planned, expected {}: {:?} vs {:?}", g.len(), w.len(), ids(&g), ids(&w));
    }
    for (a, b) in g.iter().zip(&w) {
        if a == b {
            continue;
        }
        for key in ["customerId", "deadline", "atRisk", "actions", "warnings"] {
            if a[key] != b[key] {
                return format!("customer {}: {key} {} vs {}", a["customerId"], a[key], b[key]);
            }
        }
        let (sa, sb) =
            (a["steps"].as_array().cloned().unwrap_or_default(), b["steps"].as_array().cloned().unwrap_or_default());
        for (i, (x, y)) in sa.iter().zip(&sb).enumerate() {
            if x != y {
                return format!("customer {}: step {i}: {x} vs {y}", a["customerId"]);
            }
        }
        return format!("customer {}: {} steps vs {}", a["customerId"], sa.len(), sb.len());
    }
    "no difference".into()
}

/// Every original company name, domain, principal name, person's name and id of `scenario`
/// found in `text` (one pass over the text for all of them). A person's name counts only as a
/// whole word that the catalog's own text does not use ("Dynamics", say).
fn leaks(
    scenario: &Scenario,
    originals: &BTreeSet<Uuid>,
    text: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut whole: Vec<String> = originals.iter().map(Uuid::to_string).collect();
    let mut names = BTreeSet::new();
    for c in &scenario.customers {
        whole.push(c.company_name.clone());
        whole.extend(c.domain.clone());
        for u in &c.users {
            whole.extend(u.user_principal_name.clone());
            names.insert(u.first_name.clone());
            names.insert(u.last_name.clone());
        }
    }
    let world = World::from_scenario(scenario, None)?;
    for c in world.all_customers() {
        whole.push(c.domain.clone());
        whole.extend(c.users.values().map(|u| u.user_principal_name.clone()));
    }
    whole.retain(|w| !w.is_empty());
    let finder = aho_corasick::AhoCorasick::new(&whole)?;
    let mut found: BTreeSet<String> = finder.find_iter(text).map(|m| whole[m.pattern().as_usize()].clone()).collect();
    let catalog: BTreeSet<String> = mock_server::model::Catalog::builtin()
        .offers()
        .flat_map(|o| {
            format!("{} {} {}", o.name, o.description, o.category)
                .split(|c: char| !c.is_alphanumeric())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if names.contains(word) && !catalog.contains(word) && word != "User" {
            found.insert(word.to_string());
        }
    }
    Ok(found.into_iter().collect())
}

fn size(name: &str) -> Option<usize> {
    let cap = std::env::var("SKUSWAP_CAPTURE_CUSTOMERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    (name == "distributor").then_some(cap)
}

/// Capture `serve --scenario NAME`, rehearse the capture (plain and pseudonymised), compare
/// the plans with the scenario's own, and look for every original in the pseudonymised file.
async fn round_trip(name: &str) -> TestResult {
    let key = Pseudonyms::new([7; 32]);
    let scenario = named::resolve(name, None, size(name))?;
    let expected = plan_of(&rehearse(&scenario, &options()).await?)?;
    let plain = capture_of(&scenario, None).await.map_err(|e| format!("{name}: {e}"))?;
    let got = plan_of(&rehearse(&plain, &options()).await?)?;
    assert!(got == expected, "{name}: the capture plans differently: {}", difference(&got, &expected));
    let hidden = capture_of(&scenario, Some(&key)).await?;
    let got = plan_of(&rehearse(&hidden, &options()).await?)?;
    let originals = ids(&scenario)?;
    let (got, want) = (canonical(&got), canonical(&renamed(&expected, &originals, &key)));
    assert!(got == want, "{name}: the pseudonymised capture plans differently: {}", difference(&got, &want));
    let text = serde_json::to_string(&hidden)?;
    assert_eq!(leaks(&scenario, &originals, &text)?, Vec::<String>::new(), "{name}: originals in the capture");
    Ok(())
}

/// One test per named scenario, so they run side by side.
macro_rules! round_trips {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() -> TestResult {
                round_trip($name).await
            }
        )*

        #[test]
        fn every_named_scenario_has_a_round_trip() {
            let covered = [$($name),*];
            for name in named::names() {
                assert!(covered.contains(&name), "no capture round trip for the named scenario {name}");
            }
        }
    };
}

round_trips! {
    round_trip_article => "article",
    round_trip_crm_online_mix => "crm-online-mix",
    round_trip_open_channel => "open-channel",
    round_trip_prospects => "prospects",
    round_trip_deadline_crunch => "deadline-crunch",
    round_trip_e4_retirement => "e4-retirement",
    round_trip_distributor => "distributor",
    round_trip_o365_upgrade => "o365-upgrade",
    round_trip_nce_migration => "nce-migration",
    round_trip_nce_transition => "nce-transition",
}

#[tokio::test]
async fn capture_only_reads_and_keeps_to_its_rate() -> TestResult {
    let scenario = named::resolve("article", None, None)?;
    let (mock, app, token) = served(&scenario)?;
    let events = mock.read(|w| w.events().len());
    let methods = Arc::new(Mutex::new(Vec::new()));
    let transport = Paced::new(Recording { inner: InProcess::new(app), methods: methods.clone() }, 6_000);
    let pc = RestClient::new(transport, token, skuswap_tests::engine::quick_policy());
    let started = std::time::Instant::now();
    let book = capture::book(&pc, mock.read(|w| w.now()), &Rename(None), Vec::new(), &mut ()).await?;
    let took = started.elapsed();
    assert_eq!(book.customers.len(), 3);
    let sent = methods.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(sent.iter().all(|m| m == "GET"), "{sent:?}");
    assert_eq!(mock.read(|w| w.events().len()), events, "the capture changed the mock");
    // 6,000 a minute is one every 10 ms.
    let floor = std::time::Duration::from_millis(10) * (sent.len() as u32 - 1);
    assert!(took >= floor, "{} requests in {took:?}, faster than the rate allows ({floor:?})", sent.len());
    // A write cannot even be sent through the capture's transport.
    let paced = Paced::new(InProcess::new(mock_server::app(mock.clone())), 6_000);
    let post = Outgoing {
        method: http::Method::POST,
        path: "/admin/reset".into(),
        headers: http::HeaderMap::new(),
        body: None,
    };
    assert!(matches!(paced.send(post).await, Err(TransportError::Rejected(_))));
    assert!(mock.read(|w| !w.partners().is_empty()), "the refused POST reached the mock");
    Ok(())
}

#[tokio::test]
async fn an_app_only_capture_says_what_it_could_not_read_and_names_no_original() -> TestResult {
    let scenario = named::resolve("article", None, None)?;
    let (mock, app, _) = served(&scenario)?;
    let token = mock.with(|w| mock_server::mint_token(w, None, mock_server::model::TokenMode::App, None))?;
    let pc = RestClient::new(InProcess::new(app), token, skuswap_tests::engine::quick_policy());
    let key = Pseudonyms::new([9; 32]);
    let book = capture::book(&pc, mock.read(|w| w.now()), &Rename(Some(&key)), Vec::new(), &mut ()).await?;
    assert_eq!(book.customers.len(), 3, "customers and subscriptions are readable app-only");
    let notes: Vec<String> = book.customers.iter().flat_map(|c| c.unreadable.clone()).collect();
    assert!(
        notes.iter().any(|n| n.contains("subscribed SKUs")) && notes.iter().any(|n| n.contains("users")),
        "{notes:?}"
    );
    let originals = ids(&scenario)?;
    let text = notes.join("\n");
    assert!(originals.iter().all(|id| !text.contains(&id.to_string())), "an original id in the notes: {text}");
    Ok(())
}

fn args(line: &[&str]) -> CaptureArgs {
    #[derive(clap::Parser)]
    struct Line {
        #[command(flatten)]
        args: CaptureArgs,
    }
    <Line as clap::Parser>::parse_from(std::iter::once("skuswap").chain(line.iter().copied())).args
}

#[tokio::test]
async fn an_interrupted_capture_resumes_to_the_same_book_and_keys_make_the_same_pseudonyms() -> TestResult {
    let dir = std::env::temp_dir().join(format!("skuswap-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (key, whole, resumed) = (dir.join("k"), dir.join("whole.json"), dir.join("resumed.json"));
    let path = |p: &std::path::Path| p.display().to_string();
    let base = ["--mock", "crm-online-mix", "--rate", "600000", "--pseudonymise", "--key-file"];
    let run = |out: &std::path::Path, resume: bool| {
        let mut line: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        line.extend([path(&key), "--out".into(), path(out)]);
        if resume {
            line.push("--resume".into());
        }
        args(&line.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let _ = std::fs::remove_file(&key);
    assert_eq!(skuswap_scenarios::cli::capture::run(&run(&whole, false)).await?, 0);
    assert!(key.exists(), "no key was made");
    // An interrupted run: its resume file holds the header and the first two customers.
    let scenario = named::resolve("crm-online-mix", None, None)?;
    let (mock, app, token) = served(&scenario)?;
    let pc = RestClient::new(InProcess::new(app), token, skuswap_tests::engine::quick_policy());
    let (p, made) = Pseudonyms::from_key_file(&key)?;
    assert!(!made);
    let start = mock.read(|w| w.now());
    let book = capture::book(&pc, start, &Rename(Some(&p)), Vec::new(), &mut ()).await?;
    let header = serde_json::json!({
        "source": "an embedded mock of crm-online-mix",
        "start": start,
        "key": p.fingerprint(),
    });
    let mut partial = format!("{header}\n");
    for c in book.customers.iter().take(2) {
        partial.push_str(&format!("{}\n", serde_json::to_string(c)?));
    }
    partial.push_str("{\"cut off"); // the line the interruption cut
    std::fs::write(dir.join("resumed.json.partial"), partial)?;
    assert_eq!(skuswap_scenarios::cli::capture::run(&run(&resumed, true)).await?, 0);
    assert_eq!(std::fs::read_to_string(&whole)?, std::fs::read_to_string(&resumed)?, "resumed capture differs");
    assert!(!dir.join("resumed.json.partial").exists(), "the resume file was left behind");
    // Another key, other pseudonyms; a resume against another key is refused.
    std::fs::write(dir.join("resumed.json.partial"), format!("{header}\n"))?;
    let other_key = dir.join("k2");
    let mut line = run(&resumed, true);
    line.key_file = other_key;
    let e = skuswap_scenarios::cli::capture::run(&line).await.err().ok_or("resumed with another key")?;
    assert!(e.to_string().contains("another key"), "{e}");
    Ok(())
}

#[tokio::test]
async fn the_bulk_migration_tools_csv_is_written_and_read_back() -> TestResult {
    let scenario = named::resolve("article", None, None)?;
    let captured = capture_of(&scenario, None).await?;
    let csv = bam::to_bam_csv(&captured)?;
    assert!(bam::is_bam(&csv), "{csv}");
    let header = csv.lines().next().ok_or("empty")?;
    assert_eq!(header, bam::COLUMNS.join(","));
    // One row per subscription this partner sold (the Open seats are not the partner's).
    let sold: usize = captured
        .customers
        .iter()
        .map(|c| {
            c.subscriptions.iter().filter(|s| s.channel == mock_server::model::scenario::ScenarioChannel::Csp).count()
        })
        .sum();
    assert_eq!(csv.lines().count() - 1, sold);
    let start = scenario.start;
    let (rows, left) = bam::to_import_csv(&csv, "subscriptions.csv", start)?;
    let book = skuswap_scenarios::csv_import::from_csv(&rows, "subscriptions.csv", 1, start)?;
    // The retired subscriptions come back, customer by customer, with their seats.
    let seats = |s: &Scenario| -> BTreeMap<usize, Vec<u32>> {
        s.customers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    i,
                    c.subscriptions
                        .iter()
                        .filter(|x| x.channel == mock_server::model::scenario::ScenarioChannel::Csp)
                        .map(|x| x.quantity)
                        .collect(),
                )
            })
            .collect()
    };
    let retired: Vec<u32> = seats(&captured).values().flatten().copied().collect();
    let read_back: Vec<u32> = seats(&book).values().flatten().copied().collect();
    assert_eq!(read_back.len() + left.not_retired, retired.len(), "{rows}");
    let r = rehearse(&book, &options()).await?;
    assert!(r.passed(), "{}", r.summary(None));
    assert!(r.planned_customers() > 0);
    Ok(())
}
