//! The migration engine against the mock, in-process. The contract tests at the top run the
//! same body over both transports (tower `oneshot` and a real loopback socket); the rest use
//! the in-process one for speed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use skuswap_migrator::apply::{ApplyOptions, ApplyOutcome, Quiet, apply};
use skuswap_migrator::client::*;
use skuswap_migrator::discover::{DiscoverOptions, discover};
use skuswap_migrator::journal::Journal;
use skuswap_migrator::mapping::Mapping;
use skuswap_migrator::plan::{CustomerAction, Plan, Policy, Step, plan};
use skuswap_migrator::report::report;
use skuswap_migrator::rollback::{RollbackError, rollback};
use skuswap_migrator::verify::verify;
use skuswap_tests::engine::{http, in_process, journal_path, serve};
use skuswap_tests::{Harness, TestResult, article::*};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

async fn plan_for<P: PartnerCenter>(pc: &P, h: &Harness, mapping: &Mapping) -> BoxResult<Plan> {
    let snapshot = discover(pc, mapping, &DiscoverOptions::default(), |_, _| {}).await?;
    let now = h.mock.read(|w| w.now());
    Ok(plan(&snapshot, mapping, &Policy { now, requests_per_minute: 500 })?)
}

async fn run<P: PartnerCenter + 'static>(
    pc: Arc<P>,
    plan: &Plan,
    journal: &Path,
    concurrency: usize,
) -> BoxResult<ApplyOutcome> {
    let journal = Arc::new(Journal::open(journal)?);
    let options = ApplyOptions { concurrency, ..ApplyOptions::default() };
    Ok(apply(pc, Arc::new(plan.clone()), journal, &options, Arc::new(Quiet)).await?)
}

fn purchases(h: &Harness) -> usize {
    h.mock.read(|w| w.events().iter().filter(|e| e.kind.name() == "OrderPlaced").count())
}

fn events(h: &Harness) -> usize {
    h.mock.read(|w| w.events().len())
}

/// The article's migration, end to end: plan order, apply, verify, judge, idempotence.
async fn article_end_to_end<P: PartnerCenter + 'static>(h: &Harness, pc: Arc<P>) -> TestResult {
    let mapping = Mapping::builtin();
    let plan = plan_for(pc.as_ref(), h, &mapping).await?;
    let names: Vec<_> = plan.customers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Tailspin Travel", "Wingtip Toys", "Northwind Traders"], "deadline order");
    let journal = journal_path("e2e");
    let outcome = run(pc.clone(), &plan, &journal, 8).await?;
    assert!(outcome.complete(), "{outcome:#?}");
    assert_eq!(verify(pc.as_ref(), &plan).await?, vec![]);
    assert_eq!(h.invariants().await["ok"], true, "{:#}", h.invariants().await);
    assert_eq!(purchases(h), 4, "one purchase per customer and successor");
    assert_eq!(h.holders(WINGTIP, "d365-unified-operations").len(), 6);
    assert_eq!(h.holders(WINGTIP, "d365-activity").len(), 3);
    assert_eq!(h.holders(TAILSPIN, "d365-customer-engagement").len(), 7);
    assert_eq!(h.holders(NORTHWIND, "d365-customer-engagement").len(), 4);
    // The Open-channel customer: moved, but the report says the customer must cancel.
    let rep = report(&plan, &Journal::open(&journal)?.records()?);
    let northwind = rep.customers.iter().find(|c| c.customer_id == NORTHWIND).ok_or("no Northwind")?;
    assert_eq!(northwind.state, "done");
    assert_eq!(northwind.suspensions_planned, 0);
    assert!(
        northwind.customer_actions[0].starts_with("cancel 5 seat(s) of Microsoft Dynamics CRM Online Enterprise"),
        "{northwind:?}"
    );
    // Applying again changes nothing.
    let before = events(h);
    let again = run(pc.clone(), &plan, &journal, 8).await?;
    assert!(again.complete());
    assert_eq!(events(h), before);
    // A fresh plan finds nothing left to do but the customer's own action.
    let fresh = plan_for(pc.as_ref(), h, &mapping).await?;
    assert!(fresh.customers.iter().all(|c| c.steps.is_empty()), "{}", fresh.table());
    // And 121 days later nobody lost a license.
    h.advance_days(121).await;
    assert_eq!(h.invariants().await["ok"], true);
    Ok(())
}

/// Paging: a tenant with more users than one page holds.
async fn users_page_through<P: PartnerCenter + 'static>(_h: &Harness, pc: Arc<P>) -> TestResult {
    let users = pc.users(WINGTIP).await?;
    assert_eq!(users.len(), 1_210);
    let customers = pc.customers().await?;
    assert_eq!(customers.len(), 3);
    Ok(())
}

fn big_tenant() -> BoxResult<Harness> {
    let mut scenario = skuswap_scenarios::named::resolve("article", None, None)?;
    let wingtip = scenario.customers.iter_mut().find(|c| c.company_name == "Wingtip Toys").ok_or("no Wingtip")?;
    let template = wingtip.users[9].clone();
    for i in 0..1_200 {
        let mut u = template.clone();
        u.first_name = format!("User{i}");
        wingtip.users.push(u);
    }
    Harness::from_world(mock_server::model::World::from_scenario(&scenario, None)?)
}

macro_rules! over_both_transports {
    ($name:ident, $make:expr, $body:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn in_process() -> TestResult {
                let h = $make?;
                let pc = Arc::new(skuswap_tests::engine::in_process(&h));
                $body(&h, pc).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn over_http() -> TestResult {
                let h = $make?;
                let served = serve(&h).await?;
                let pc = Arc::new(http(&h, &served)?);
                $body(&h, pc).await
            }

            /// HTTPS through `skuswap serve --tls`'s own certificate and accept loop.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn over_https() -> TestResult {
                let h = $make?;
                let served = skuswap_tests::engine::serve_tls(&h).await?;
                let pc = Arc::new(http(&h, &served)?);
                $body(&h, pc).await
            }
        }
    };
}

over_both_transports!(article_migration, Harness::article(), article_end_to_end);
over_both_transports!(paging, big_tenant(), users_page_through);
over_both_transports!(crash_and_rollback, Harness::article(), crash_resume_then_rollback);

/// A crash whose last write reached the server, a resume that buys nothing twice, then a
/// rollback of one customer: the engine's recovery contract, over any transport.
async fn crash_resume_then_rollback<P: PartnerCenter + 'static>(h: &Harness, pc: Arc<P>) -> TestResult {
    let plan = plan_for(pc.as_ref(), h, &Mapping::builtin()).await?;
    let path = journal_path("crash-rollback");
    let crashing = Arc::new(Crashing::<P>::new(pc.clone(), 10, true));
    assert!(!run(crashing, &plan, &path, 1).await?.complete(), "the crash should stop the run");
    assert!(run(pc.clone(), &plan, &path, 4).await?.complete());
    assert_eq!(purchases(h), 4, "one purchase per customer and successor");
    assert_eq!(verify(pc.as_ref(), &plan).await?, vec![]);
    let journal = Journal::open(&path)?;
    let outcome = rollback(pc.as_ref(), &journal, WINGTIP).await?;
    assert_eq!((outcome.reactivated, outcome.users_swapped_back, outcome.purchases_left_active), (2, 9, 2));
    assert_eq!(h.holders(WINGTIP, "ax-enterprise").len(), 6);
    assert_eq!(h.invariants().await["ok"], true, "{:#}", h.invariants().await);
    Ok(())
}

#[tokio::test]
async fn the_article_plan_and_report_are_stable() -> TestResult {
    let h = Harness::article()?;
    let pc = Arc::new(in_process(&h));
    let plan = plan_for(pc.as_ref(), &h, &Mapping::builtin()).await?;
    insta::assert_json_snapshot!("article_plan", plan);
    insta::assert_snapshot!("article_plan_table", plan.table());
    let journal = journal_path("report");
    run(pc.clone(), &plan, &journal, 1).await?;
    let rep = report(&plan, &Journal::open(&journal)?.records()?);
    insta::assert_snapshot!("article_report_table", rep.table());
    insta::assert_snapshot!("article_report_markdown", rep.markdown());
    Ok(())
}

/// A client that "crashes" at its n-th mutating call: the process is gone from then on.
/// With `applied`, the call reaches the server first and only its answer is lost.
struct Crashing<P> {
    inner: Arc<P>,
    crash_at: u64,
    applied: bool,
    mutations: AtomicU64,
    crashed: AtomicBool,
}

impl<P> Crashing<P> {
    fn new(inner: impl Into<Arc<P>>, crash_at: u64, applied: bool) -> Self {
        let inner = inner.into();
        Crashing { inner, crash_at, applied, mutations: AtomicU64::new(0), crashed: AtomicBool::new(false) }
    }

    fn dead(&self) -> Result<()> {
        if self.crashed.load(Ordering::SeqCst) {
            return Err(ClientError::OutcomeUnknown {
                operation: "crashed".into(),
                attempts: 1,
                detail: "the process died".into(),
                request_id: String::new(),
            });
        }
        Ok(())
    }

    /// Is this mutation the one that crashes, and does it reach the server first?
    fn this_one_crashes(&self) -> bool {
        let n = self.mutations.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.crash_at {
            self.crashed.store(true, Ordering::SeqCst);
            return true;
        }
        false
    }
}

macro_rules! mutate {
    ($self:ident, $call:expr) => {{
        $self.dead()?;
        if $self.this_one_crashes() {
            if $self.applied {
                let _ = $call.await;
            }
            return $self.dead().map(|_| unreachable!());
        }
        $call.await
    }};
}

impl<P: PartnerCenter> PartnerCenter for Crashing<P> {
    async fn customers(&self) -> Result<Vec<Customer>> {
        self.dead()?;
        self.inner.customers().await
    }
    async fn customer(&self, c: &str) -> Result<Option<Customer>> {
        self.dead()?;
        self.inner.customer(c).await
    }
    async fn subscriptions(&self, c: &str) -> Result<Vec<Subscription>> {
        self.dead()?;
        self.inner.subscriptions(c).await
    }
    async fn subscription(&self, c: &str, id: &str) -> Result<FetchedSubscription> {
        self.dead()?;
        self.inner.subscription(c, id).await
    }
    async fn set_subscription_status(
        &self,
        c: &str,
        cur: &FetchedSubscription,
        status: &skuswap_migrator::client::SubscriptionStatus,
        rid: &str,
    ) -> Result<Subscription> {
        mutate!(self, self.inner.set_subscription_status(c, cur, status, rid))
    }
    async fn set_subscription_quantity(
        &self,
        c: &str,
        cur: &FetchedSubscription,
        quantity: u32,
        rid: &str,
    ) -> Result<Subscription> {
        mutate!(self, self.inner.set_subscription_quantity(c, cur, quantity, rid))
    }
    async fn create_order(&self, c: &str, lines: &[NewLine], rid: &str) -> Result<Order> {
        mutate!(self, self.inner.create_order(c, lines, rid))
    }
    async fn subscribed_skus(&self, c: &str) -> Result<Vec<SubscribedSku>> {
        self.dead()?;
        self.inner.subscribed_skus(c).await
    }
    async fn users(&self, c: &str) -> Result<Vec<User>> {
        self.dead()?;
        self.inner.users(c).await
    }
    async fn user_licenses(&self, c: &str, u: &str) -> Result<Vec<License>> {
        self.dead()?;
        self.inner.user_licenses(c, u).await
    }
    async fn update_licenses(&self, c: &str, u: &str, a: &[String], r: &[String], rid: &str) -> Result<()> {
        mutate!(self, self.inner.update_licenses(c, u, a, r, rid))
    }
    async fn offers(&self, country: &str) -> Result<Vec<Offer>> {
        self.dead()?;
        self.inner.offers(country).await
    }
    async fn relationship_request_url(&self) -> Result<String> {
        self.dead()?;
        self.inner.relationship_request_url().await
    }
    async fn validate_migration(&self, c: &str, r: &NewMigration) -> Result<Eligibility> {
        self.dead()?;
        self.inner.validate_migration(c, r).await
    }
    async fn create_migration(&self, c: &str, r: &NewMigration, rid: &str) -> Result<Migration> {
        mutate!(self, self.inner.create_migration(c, r, rid))
    }
    async fn migration(&self, c: &str, id: &str) -> Result<Migration> {
        self.dead()?;
        self.inner.migration(c, id).await
    }
    async fn migrations_of(&self, s: &str) -> Result<Vec<Migration>> {
        self.dead()?;
        self.inner.migrations_of(s).await
    }
    async fn upgrades(&self, c: &str, s: &str) -> Result<Vec<Upgrade>> {
        self.dead()?;
        self.inner.upgrades(c, s).await
    }
    async fn upgrade(&self, c: &str, s: &str, t: &OfferRef, q: u32, rid: &str) -> Result<UpgradeResult> {
        mutate!(self, self.inner.upgrade(c, s, t, q, rid))
    }
    async fn transition_options(&self, c: &str, s: &str) -> Result<Vec<TransitionOption>> {
        self.dead()?;
        self.inner.transition_options(c, s).await
    }
    async fn transition(&self, c: &str, s: &str, r: &NewTransition, rid: &str) -> Result<Transition> {
        mutate!(self, self.inner.transition(c, s, r, rid))
    }
    async fn wait(&self, d: std::time::Duration) {
        self.inner.wait(d).await;
    }
    fn requests_sent(&self) -> u64 {
        self.inner.requests_sent()
    }

    async fn back_off(&self, attempt: u32) {
        self.inner.back_off(attempt).await;
    }
}

#[tokio::test]
async fn a_crash_after_any_single_step_resumes_without_buying_twice() -> TestResult {
    // How many mutating calls a clean run makes.
    let h = Harness::article()?;
    let plan = plan_for(&in_process(&h), &h, &Mapping::builtin()).await?;
    let counter = Arc::new(Crashing::new(in_process(&h), u64::MAX, false));
    assert!(run(counter.clone(), &plan, &journal_path("count"), 1).await?.complete());
    let total = counter.mutations.load(Ordering::SeqCst);
    assert_eq!(total, 28, "4 purchases, 20 swaps, 4 suspensions");
    let buys = plan.customers.iter().flat_map(|c| &c.steps).filter(|s| matches!(s, Step::Buy { .. })).count();
    for applied in [false, true] {
        for n in 1..=total {
            let h = Harness::article()?;
            let journal = journal_path("crash");
            let crashing = Arc::new(Crashing::new(in_process(&h), n, applied));
            let first = run(crashing, &plan, &journal, 1).await?;
            assert!(!first.complete(), "crash at {n} should stop the run");
            let resumed = run(Arc::new(in_process(&h)), &plan, &journal, 1).await?;
            let context = format!("crash at mutation {n} (applied: {applied})");
            assert!(resumed.complete(), "{context}: {resumed:#?}");
            assert_eq!(purchases(&h), buys, "{context}: exactly one purchase per customer and successor");
            assert_eq!(h.invariants().await["ok"], true, "{context}: {:#}", h.invariants().await);
            assert_eq!(verify(&in_process(&h), &plan).await?, vec![], "{context}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn rollback_restores_the_old_licenses_inside_the_window_and_is_refused_after() -> TestResult {
    let h = Harness::article()?;
    let pc = Arc::new(in_process(&h));
    let plan = plan_for(pc.as_ref(), &h, &Mapping::builtin()).await?;
    let path = journal_path("rollback");
    assert!(run(pc.clone(), &plan, &path, 4).await?.complete());
    let journal = Journal::open(&path)?;
    let outcome = rollback(pc.as_ref(), &journal, WINGTIP).await?;
    assert_eq!((outcome.reactivated, outcome.users_swapped_back, outcome.purchases_left_active), (2, 9, 2));
    assert_eq!(h.holders(WINGTIP, "ax-enterprise").len(), 6);
    assert_eq!(h.holders(WINGTIP, "ax-task").len(), 3);
    assert!(h.holders(WINGTIP, "d365-unified-operations").is_empty());
    assert_eq!(h.get(&format!("/v1/customers/{WINGTIP}/subscriptions/{WINGTIP_AX}")).await.body["status"], "active");
    assert_eq!(h.invariants().await["ok"], true);
    // Tailspin, after de-provisioning: refused, nothing changed.
    h.advance_days(121).await;
    let before = events(&h);
    let err = rollback(pc.as_ref(), &journal, TAILSPIN).await;
    assert!(matches!(err, Err(RollbackError::Deprovisioned { .. })), "{err:?}");
    assert!(err.is_err_and(|e| e.to_string().contains("de-provisioned")));
    assert_eq!(events(&h), before);
    assert!(matches!(rollback(pc.as_ref(), &journal, ADVENTURE_WORKS).await, Err(RollbackError::UnknownCustomer(_))));
    Ok(())
}

#[tokio::test]
async fn a_prospect_is_invited_then_migrated_after_accepting() -> TestResult {
    let h = Harness::article()?;
    let pc = Arc::new(in_process(&h));
    let mapping = Mapping { prospects: vec![ADVENTURE_WORKS.to_string()], ..Mapping::builtin() };
    let first = plan_for(pc.as_ref(), &h, &mapping).await?;
    let prospect = first.customers.iter().find(|c| c.customer_id == ADVENTURE_WORKS).ok_or("no prospect")?;
    assert!(prospect.steps.is_empty());
    assert!(matches!(&prospect.actions[0], CustomerAction::AcceptInvitation { url } if url.contains(PARTNER)));
    let rep = report(&first, &[]);
    assert!(rep.customers.iter().any(|c| c.invitation_outstanding && c.state == "waiting for customer"));
    // The customer accepts; a new plan migrates them (Fabrikam's subscription stays theirs).
    let r = h.post(&format!("/admin/customers/{ADVENTURE_WORKS}/accept-relationship"), "").await;
    assert_eq!(r.status, 200);
    let second = plan_for(pc.as_ref(), &h, &mapping).await?;
    let aw = second.customers.iter().find(|c| c.customer_id == ADVENTURE_WORKS).ok_or("not planned")?;
    assert!(matches!(&aw.steps[0], Step::Buy { quantity: 20, .. }), "{aw:?}");
    assert_eq!(aw.steps.iter().filter(|s| matches!(s, Step::Swap { .. })).count(), 5);
    assert!(!aw.steps.iter().any(|s| matches!(s, Step::Suspend { .. })));
    assert!(matches!(&aw.actions[0], CustomerAction::CancelOtherChannel { seats: 20, .. }));
    assert!(run(pc.clone(), &second, &journal_path("prospect"), 8).await?.complete());
    assert_eq!(h.holders(ADVENTURE_WORKS, "d365-unified-operations").len(), 5);
    assert_eq!(h.invariants().await["ok"], true);
    Ok(())
}

#[tokio::test]
async fn every_mapping_row_migrates_to_its_first_successor() -> TestResult {
    let catalog = mock_server::model::Catalog::builtin();
    let mapping = Mapping::builtin();
    for row in &mapping.rows {
        let offer = catalog.offers().find(|o| o.name == row.from).ok_or("row names no offer")?;
        let successor = catalog.offers().find(|o| o.name == row.to[0]).ok_or("no successor")?;
        let mut subs = Vec::new();
        let mut licenses = vec![offer.key.clone()];
        if offer.is_add_on {
            subs.push(serde_json::json!({"id": "11111111-2222-4333-8444-000000000001", "offer": "crm-professional", "quantity": 5,
                "commitmentEndDate": "2017-12-31T00:00:00Z"}));
            licenses.push("crm-professional".into());
        }
        let mut sub = serde_json::json!({"offer": offer.key, "quantity": offer.minimum_quantity.max(5), "commitmentEndDate": "2017-12-31T00:00:00Z"});
        if offer.is_add_on {
            sub["parent"] = "11111111-2222-4333-8444-000000000001".into();
        }
        subs.push(sub);
        let users: Vec<_> = ["Ann", "Bo", "Cy"]
            .iter()
            .map(|n| serde_json::json!({"firstName": n, "lastName": "Row", "licenses": licenses}))
            .collect();
        let doc = serde_json::json!({"name": format!("row {}", offer.key), "start": "2017-07-03T00:00:00Z",
            "partners": [{"name": "P", "mpnId": "1"}],
            "customers": [{"id": WINGTIP, "companyName": "Row Co", "subscriptions": subs, "users": users}]});
        let scenario = skuswap_scenarios::named::from_text(&doc.to_string(), "test document", None, None)?;
        let h = Harness::from_world(mock_server::model::World::from_scenario(&scenario, None)?)?;
        let pc = Arc::new(in_process(&h));
        let plan = plan_for(pc.as_ref(), &h, &mapping).await?;
        assert!(run(pc.clone(), &plan, &journal_path("row"), 2).await?.complete(), "{}", row.from);
        assert_eq!(h.holders(WINGTIP, &successor.key).len(), 3, "{} -> {}", row.from, row.to[0]);
        assert!(h.holders(WINGTIP, &offer.key).is_empty(), "{}", row.from);
        assert_eq!(h.invariants().await["ok"], true, "{}", row.from);
        assert_eq!(verify(pc.as_ref(), &plan).await?, vec![], "{}", row.from);
    }
    Ok(())
}

#[tokio::test]
async fn a_per_customer_override_picks_another_successor() -> TestResult {
    let h = Harness::article()?;
    let pc = Arc::new(in_process(&h));
    let mapping = Mapping::from_toml(&format!(
        "[overrides.{WINGTIP}]\n\"Microsoft Dynamics AX Enterprise\" = \"Dynamics 365 Plan\"\n"
    ))?;
    let mapping = Mapping { overrides: mapping.overrides, ..Mapping::builtin() };
    let plan = plan_for(pc.as_ref(), &h, &mapping).await?;
    assert!(run(pc, &plan, &journal_path("override"), 4).await?.complete());
    assert_eq!(h.holders(WINGTIP, "d365-plan").len(), 6);
    Ok(())
}

#[tokio::test]
async fn user_errors_are_one_clear_line_and_change_nothing() -> TestResult {
    let h = Harness::article()?;
    let before = events(&h);
    // A bad mapping file names the file and the row.
    let bad = std::env::temp_dir().join(format!("skuswap-bad-mapping-{}.toml", std::process::id()));
    std::fs::write(&bad, "[[rows]]\nfrom = \"Microsoft Dynamics AX Task\"\nto = []\n")?;
    let e = Mapping::from_file(&bad).err().ok_or("accepted a bad mapping")?.to_string();
    assert!(e.contains(&bad.display().to_string()) && e.contains("rows[0]"), "{e}");
    let e = Mapping::from_file(Path::new("/nonexistent/mapping.toml")).err().ok_or("read a missing file")?.to_string();
    assert!(e.contains("/nonexistent/mapping.toml"), "{e}");
    // A successor missing from the catalog names the row.
    let mapping = Mapping::from_toml("[[rows]]\nfrom = \"Microsoft Dynamics AX Task\"\nto = [\"Dynamics 366\"]\n")?;
    let snapshot = discover(&in_process(&h), &mapping, &DiscoverOptions::default(), |_, _| {}).await?;
    let e = plan(&snapshot, &mapping, &Policy { now: h.mock.read(|w| w.now()), requests_per_minute: 500 });
    assert!(e.is_err_and(|e| e.to_string().contains("Dynamics 366")));
    // An expired token.
    let expired =
        RestClient::new(InProcess::new(h.app.clone()), "expired-token", skuswap_tests::engine::quick_policy());
    let e = discover(&expired, &Mapping::builtin(), &DiscoverOptions::default(), |_, _| {})
        .await
        .err()
        .ok_or("accepted a bad token")?;
    assert!(matches!(e, ClientError::Unauthorized { .. }) && e.to_string().contains("fresh token"), "{e}");
    // An unreachable server.
    let nowhere = RestClient::new(Http::new("http://127.0.0.1:9")?, "t", skuswap_tests::engine::quick_policy());
    let e = discover(&nowhere, &Mapping::builtin(), &DiscoverOptions::default(), |_, _| {})
        .await
        .err()
        .ok_or("reached nowhere")?;
    assert!(e.to_string().contains("127.0.0.1:9"), "{e}");
    // A journal from another migration.
    let pc = in_process(&h);
    let plan_a = plan_for(&pc, &h, &Mapping::builtin()).await?;
    let mut plan_b = plan_a.clone();
    plan_b.id = "0123456789abcdef".into();
    let path = journal_path("other");
    Journal::open(&path)?.begin(&plan_a)?;
    let e =
        run(Arc::new(in_process(&h)), &plan_b, &path, 1).await.err().ok_or("accepted another migration's journal")?;
    assert!(e.to_string().contains("another migration"), "{e}");
    assert_eq!(events(&h), before, "a user error changed the server");
    Ok(())
}

/// The article's migration as the audit log tells it, pinned: every purchase, swap and
/// suspension, in order, with its request id; then the clock through de-provisioning.
#[tokio::test]
async fn the_article_migration_transcript() -> TestResult {
    let h = Harness::article()?;
    let pc = Arc::new(in_process(&h));
    let plan = plan_for(pc.as_ref(), &h, &Mapping::builtin()).await?;
    let journal = Arc::new(Journal::in_memory());
    let options = ApplyOptions { concurrency: 1, ..ApplyOptions::default() };
    let outcome = apply(pc, Arc::new(plan), journal, &options, Arc::new(Quiet)).await?;
    assert!(outcome.complete());
    h.advance_days(121).await;
    let first = h.mock.read(|w| w.events().iter().find(|e| e.kind.name() == "TokenIssued").map(|e| e.seq)).unwrap_or(0);
    let text = h.get(&format!("/admin/events?after={first}&format=text")).await.text;
    assert!(text.contains("SubscriptionDeprovisioned"), "{text}");
    assert_eq!(h.invariants().await["ok"], true);
    insta::assert_snapshot!("article_migration_transcript", text);
    Ok(())
}

/// Each way a call can fail names its cause, and only a write that may have reached the server
/// is "outcome unknown": a bad scheme, a refused connection, an untrusted certificate, a name
/// that does not resolve, and a server that never answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_failures_name_their_cause_and_only_writes_are_outcome_unknown() -> TestResult {
    let e = Http::new("ftp://example.com").err().ok_or("accepted ftp://")?;
    assert!(matches!(e, TransportError::Rejected(_)) && e.to_string().contains("unsupported scheme"), "{e}");
    let line = [NewLine { line_item_number: 0, offer_id: "X".into(), quantity: 1, friendly_name: String::new() }];
    let policy =
        RetryPolicy { call_timeout: std::time::Duration::from_millis(300), ..skuswap_tests::engine::quick_policy() };
    let client = |url: &str, ca: Option<&[u8]>| -> Result<RestClient<Http>, TransportError> {
        Ok(RestClient::new(Http::trusting(url, ca)?, "t", policy.clone()))
    };
    // Refused: a write was not sent, so it is not "outcome unknown".
    let refused = client("http://127.0.0.1:9", None)?;
    let e = refused.create_order(WINGTIP, &line, "r1").await.err().ok_or("ordered from nowhere")?;
    assert!(matches!(e, ClientError::Unreachable { .. }) && e.to_string().contains("connection refused"), "{e}");
    assert!(e.to_string().contains("nothing was sent"), "{e}");
    // An untrusted certificate: said at once (trying again cannot help), with the way out.
    let h = Harness::article()?;
    let served = skuswap_tests::engine::serve_tls(&h).await?;
    let untrusted = client(&served.base_url, None)?;
    let e = untrusted.customers().await.err().ok_or("trusted an unknown CA")?;
    assert!(matches!(e, ClientError::Unreachable { attempts: 1, .. }), "{e}");
    assert!(e.to_string().contains("TLS handshake failed") && e.to_string().contains("--ca-cert"), "{e}");
    // A name that does not resolve.
    let nowhere = client("https://no-such-host.invalid", None)?;
    let e = nowhere.customers().await.err().ok_or("resolved .invalid")?;
    assert!(matches!(e, ClientError::Unreachable { .. }) && e.to_string().contains("DNS lookup failed"), "{e}");
    // A server that takes the connection and never answers: a read has "no answer", a write
    // "outcome unknown" (it may have been applied).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", silent.local_addr()?);
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let mute = client(&url, None)?;
    let e = mute.customers().await.err().ok_or("answered")?;
    assert!(matches!(e, ClientError::NoAnswer { .. }) && !e.to_string().contains("may have been applied"), "{e}");
    let e = mute.create_order(WINGTIP, &line, "r2").await.err().ok_or("answered")?;
    assert!(matches!(e, ClientError::OutcomeUnknown { .. }) && e.to_string().contains("may have been applied"), "{e}");
    held.abort();
    Ok(())
}
