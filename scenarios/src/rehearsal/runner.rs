//! The rehearsal runner: sets the stage (a world, an in-process mock, the client on virtual
//! time), runs the engine's `migrate` wave by wave as prospects accept, resumes unfinished
//! customers as an operator would, optionally applies once more, runs the clock past the
//! de-provisioning window, and hands the world to the verdict and the report.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use chrono::{DateTime, Duration, Utc};
use mock_server::Mock;
use mock_server::model::{Scenario, TokenMode, World};
use skuswap_migrator::apply::{ApplyOptions, ApplyOutcome, Progress};
use skuswap_migrator::client::{
    Authority, Clock, Credentials, Fixed, Grant, InProcess, OAuth, PartnerCenter, RestClient, RetryPolicy, Secret,
};
use skuswap_migrator::discover::DiscoverOptions;
use skuswap_migrator::journal::Journal;
use skuswap_migrator::mapping::Mapping;
use skuswap_migrator::migrate::{Hooks, Migrate, migrate, plan_migration};
use skuswap_migrator::plan::Plan;

use super::folding::Folding;
use super::pacing::{Pacer, Reached, VirtualPause};
use super::report::{self, FaultReport, MigrationTimes, Rehearsal, Wave};
use super::verdict::{self, changes_state};
use super::{Client, Engine, Options};

/// Waves at most: one per prospect acceptance date, and a scenario has far fewer.
const MAX_WAVES: usize = 64;
/// Runs of `apply` after the first for a customer left unfinished (faults, a crash), as an
/// operator would run it again; the last comes after the fault plan is cleared.
const RESUME_RUNS: usize = 4;
/// Customers discovery reads at once without faults (with faults, one: the plan's draws then
/// land on the same calls in every run, so a seed replays a storm exactly).
const DISCOVERY_READERS: usize = 4;

/// Run a rehearsal of `scenario` with `engine`: in one world, or dealt into
/// [`Options::shards`] worlds run side by side.
pub async fn rehearse_with<E: Engine>(scenario: &Scenario, opts: &Options, engine: &E) -> anyhow::Result<Rehearsal> {
    rehearse_book(Cow::Borrowed(scenario), opts, engine).await
}

/// [`rehearse_with`] of a book borrowed or owned; an owned one is freed once its customers
/// are in their worlds.
pub(super) async fn rehearse_book<E: Engine>(
    scenario: Cow<'_, Scenario>,
    opts: &Options,
    engine: &E,
) -> anyhow::Result<Rehearsal> {
    if opts.shards > 1 {
        return super::shards::rehearse(scenario, opts, engine);
    }
    Ok(rehearse_part(scenario, opts, engine, 1).await?.rehearsal)
}

/// One world's rehearsal, with what merging several of them needs besides the report.
pub(super) struct Part {
    pub rehearsal: Rehearsal,
    /// What started each wave: `None` the first, then the acceptance instant the clock moved to.
    pub triggers: Vec<Option<DateTime<Utc>>>,
    /// Each migration's partner and when it was created (the 100-in-5-minutes limit is the
    /// partner's, whichever world a create landed in).
    pub migration_starts: Vec<(uuid::Uuid, DateTime<Utc>)>,
    pub migration_times: MigrationTimes,
}

/// Rehearse `scenario` in one world, beside `side_by_side - 1` others spending the same
/// partner's limits (their migration creates are spaced that much further apart). An owned
/// scenario is dropped once its world is built: the world's growth reuses its memory.
pub(super) async fn rehearse_part<E: Engine>(
    scenario: Cow<'_, Scenario>,
    opts: &Options,
    engine: &E,
    side_by_side: u32,
) -> anyhow::Result<Part> {
    let wall = Instant::now();
    let mut stage = Stage::set(&scenario, opts, engine)?;
    let (name, description) = (scenario.name.clone(), scenario.description.clone());
    drop(scenario);
    stage.side_by_side = side_by_side;
    let (mut waves, mut triggers) = (Vec::new(), vec![None]);
    // The first wave reads every customer; later ones only those who have just accepted.
    let mut scope: Option<Vec<String>> = None;
    for _ in 0..MAX_WAVES {
        let wave = stage.wave(scope.as_deref()).await?;
        waves.push(wave);
        match stage.next_acceptances()? {
            Some((at, accepted)) => {
                triggers.push(Some(at));
                scope = Some(accepted);
            }
            None => break,
        }
    }
    triggers.truncate(waves.len());
    let reapplied = if opts.reapply { stage.reapply(&waves).await? } else { Vec::new() };
    let end = stage.close_window()?;
    let (migration_starts, migration_times) =
        stage.mock.read(|w| (verdict::migration_starts(w), MigrationTimes::of(w)));
    let rehearsal =
        stage.conclude((name, description), waves, reapplied, end, wall.elapsed().as_secs_f64(), &migration_times)?;
    Ok(Part { rehearsal, triggers, migration_starts, migration_times })
}

/// Everything a rehearsal runs on.
struct Stage<'a, E: Engine> {
    opts: &'a Options,
    engine: &'a E,
    mock: Mock,
    pc: Arc<Client>,
    engine_pc: Arc<E::Pc>,
    pause: Arc<VirtualPause>,
    mapping: Mapping,
    reached: Reached,
    seed: u64,
    start: DateTime<Utc>,
    deprovision_days: i64,
    migration: Duration,
    resumed_runs: u32,
    /// The judge, folding the log on the other core as it grows.
    folding: Folding,
    /// Worlds spending the partner's limits side by side (see [`ApplyOptions::side_by_side`]).
    side_by_side: u32,
}

/// Plans through the wave's pacer, in the engine's shape.
struct Shaped<'a, E> {
    pacer: &'a Pacer,
    engine: &'a E,
}

impl<E: Engine> Progress for Shaped<'_, E> {}

impl<E: Engine> Hooks for Shaped<'_, E> {
    fn planning_instant(&self) -> DateTime<Utc> {
        self.pacer.plan_now()
    }
    fn accept(&self, fresh: Plan) -> Result<Plan, String> {
        Ok(self.engine.shape(fresh))
    }
}

/// A run nobody watches (a rival operator, a second apply), on a plan already journaled.
struct Unwatched(DateTime<Utc>);

impl Progress for Unwatched {}

impl Hooks for Unwatched {
    fn planning_instant(&self) -> DateTime<Utc> {
        self.0
    }
}

impl<'a, E: Engine> Stage<'a, E> {
    fn set(scenario: &Scenario, opts: &'a Options, engine: &'a E) -> anyhow::Result<Self> {
        let mut world = World::from_scenario(scenario, opts.seed).map_err(|e| anyhow!("{}: {e}", scenario.name))?;
        let seed = world.seed();
        let sign_in = SignIn::prepare(&mut world, opts.token_lifetime)?;
        let (start, deprovision_days) = (world.now(), world.settings.deprovision_days);
        if let Some(plan) = &opts.faults {
            world.set_fault_plan(Some(plan.clone())).map_err(|e| anyhow!("fault plan: {e}"))?;
        }
        let mock = crate::named::mock(world);
        let pause = Arc::new(VirtualPause::new(mock.clone(), engine.waits()));
        let credentials = sign_in.credentials(&mock, pause.clone());
        let pc = Arc::new(
            RestClient::with_credentials(
                InProcess::new(mock_server::app(mock.clone())),
                credentials,
                RetryPolicy { seed, ..RetryPolicy::default() },
            )
            .with_pause(pause.clone()),
        );
        let prospects = mock.read(prospects);
        let folding = Folding::start(mock.clone())?;
        Ok(Stage {
            opts,
            engine,
            engine_pc: engine.client(pc.clone()),
            mock,
            pc,
            pause,
            mapping: Mapping { prospects, ..opts.mapping.clone() },
            reached: Reached::default(),
            seed,
            start,
            deprovision_days,
            migration: Duration::zero(),
            resumed_runs: 0,
            folding,
            side_by_side: 1,
        })
    }

    fn how<'b>(&'b self, only: Option<&'b [String]>) -> Migrate<'b> {
        let readers = if self.opts.faults.is_some() { 1 } else { DISCOVERY_READERS };
        Migrate {
            mapping: &self.mapping,
            discovery: DiscoverOptions { only, readers },
            requests_per_minute: self.opts.rate,
            apply: ApplyOptions { concurrency: 1, side_by_side: self.side_by_side, ..ApplyOptions::default() },
        }
    }

    /// One wave: discover and plan on virtual time, then migrate (with a rival if the engine
    /// races), then resume until done.
    async fn wave(&mut self, only: Option<&[String]>) -> anyhow::Result<Wave> {
        let pacer = Arc::new(Pacer::new(
            self.mock.clone(),
            self.pc.clone(),
            self.pause.clone(),
            self.reached.clone(),
            self.opts.meanwhile.clone(),
            self.opts.rate,
        ));
        let how = self.how(only);
        let plan =
            Arc::new(plan_migration(self.pc.as_ref(), &how, &Shaped { pacer: &pacer, engine: self.engine }).await?);
        // One copy of the plan, shared by the journal and the engine (a step per user).
        let journal = Arc::new(Journal::in_memory());
        journal.begin_shared(&plan)?;
        let ours = migrate(self.engine_pc.clone(), journal.clone(), &how, pacer.clone());
        let first = if self.engine.racers() > 1 {
            let rival_journal = Arc::new(Journal::in_memory());
            rival_journal.begin_shared(&plan)?;
            let rival = migrate(self.engine_pc.clone(), rival_journal, &how, Arc::new(Unwatched(plan.planned_at)));
            let (ours, theirs) = tokio::join!(ours, rival);
            theirs?;
            ours?.outcome
        } else {
            ours.await?.outcome
        };
        let (outcome, resumed) = self.resume(first, &journal, &how, &pacer).await?;
        drop(journal);
        let plan = Arc::unwrap_or_clone(plan);
        self.resumed_runs += resumed;
        pacer.catch_up();
        self.migration += pacer.migration_time();
        Ok(Wave {
            at: pacer.wave_start(),
            planned_at: pacer.planned_at(),
            plan,
            outcome,
            discovery_requests: pacer.discovery_requests(),
            apply_requests: pacer.apply_requests(),
        })
    }

    /// A customer may end unfinished (faults, a crash); an operator runs `apply` again and it
    /// resumes from the journal. Under faults the last run comes after the plan is cleared:
    /// the storm is over, and the migration must then complete.
    async fn resume(
        &self,
        mut outcome: ApplyOutcome,
        journal: &Arc<Journal>,
        how: &Migrate<'_>,
        pacer: &Arc<Pacer>,
    ) -> anyhow::Result<(ApplyOutcome, u32)> {
        let mut runs = 0;
        for round in 0..RESUME_RUNS {
            if outcome.complete() {
                break;
            }
            if round == RESUME_RUNS - 1 && self.opts.faults.is_some() {
                self.mock.with(|w| w.set_fault_plan(None)).map_err(|e| anyhow!("{e}"))?;
            }
            runs += 1;
            self.engine.restart();
            outcome = migrate(self.engine_pc.clone(), journal.clone(), how, pacer.clone()).await?.outcome;
        }
        Ok((outcome, runs))
    }

    /// Move the clock to the next prospect's acceptance: that instant and who accepted; `None`
    /// when nobody is left to accept.
    fn next_acceptances(&self) -> anyhow::Result<Option<(DateTime<Utc>, Vec<String>)>> {
        let pending = |w: &World| -> Vec<uuid::Uuid> {
            w.all_customers().filter(|c| c.accepts.is_some()).map(|c| c.id).collect()
        };
        let before = self.mock.read(pending);
        let next = self.mock.read(|w| w.all_customers().filter_map(|c| c.accepts.as_ref().map(|a| a.at)).min());
        let Some(t) = next else { return Ok(None) };
        self.mock.with(|w| w.advance_to(t.max(w.now()))).map_err(|e| anyhow!("{e}"))?;
        // A set: a world of 50,000 customers has thousands of prospects, and a list's lookups
        // made this quadratic.
        let still: std::collections::HashSet<uuid::Uuid> = self.mock.read(pending).into_iter().collect();
        Ok(Some((t, before.into_iter().filter(|c| !still.contains(c)).map(|c| c.to_string()).collect())))
    }

    /// A second apply of a finished migration must change nothing: the changes it made.
    async fn reapply(&self, waves: &[Wave]) -> anyhow::Result<Vec<String>> {
        let mut changes = Vec::new();
        for wave in waves {
            let before = self.mock.read(|w| w.events().len());
            let journal = Arc::new(Journal::in_memory());
            journal.begin(&wave.plan)?;
            let hooks = Arc::new(Unwatched(wave.plan.planned_at));
            migrate(self.engine_pc.clone(), journal, &self.how(None), hooks).await?;
            changes.extend(self.mock.read(|w| {
                w.events()[before..].iter().filter(|e| changes_state(e)).map(ToString::to_string).collect::<Vec<_>>()
            }));
        }
        Ok(changes)
    }

    /// Run the clock past every end date and the de-provisioning window; the end instant.
    fn close_window(&self) -> anyhow::Result<DateTime<Utc>> {
        let last = self.mock.read(|w| {
            w.all_customers()
                .flat_map(|c| {
                    c.subscriptions
                        .values()
                        .map(|s| s.commitment_end_date.max(s.inactive_since.unwrap_or(s.commitment_end_date)))
                })
                .max()
                .unwrap_or(w.now())
                .max(w.now())
        });
        let end = last + Duration::days(self.deprovision_days + 1);
        self.mock.with(|w| w.advance_to(end.max(w.now()))).map_err(|e| anyhow!("{e}"))?;
        Ok(end)
    }

    /// Judge the world and build the report.
    fn conclude(
        self,
        (scenario, description): (String, String),
        waves: Vec<Wave>,
        reapplied_changes: Vec<String>,
        end: DateTime<Utc>,
        wall_seconds: f64,
        migrations: &MigrationTimes,
    ) -> anyhow::Result<Rehearsal> {
        let disturbed = self.opts.faults.is_some() || self.opts.meanwhile.is_some();
        let run = verdict::Run {
            waves: &waves,
            mapping: &self.mapping,
            reached: &self.reached,
            disturbed,
            reapplied_changes,
        };
        let new_commerce = report::new_commerce(&waves, migrations);
        let (judged, series) = self.folding.conclude()?;
        let (verdict, timelines, seats, counts, faults) = self.mock.read(|w| {
            let verdict = verdict::judge(w, run, &judged);
            let counts = (
                w.all_customers().count(),
                w.all_customers().map(|c| c.users.len()).sum::<usize>(),
                w.all_customers().map(|c| c.subscriptions.len()).sum::<usize>(),
            );
            let faults = self.opts.faults.as_ref().map(|plan| FaultReport {
                plan: report::describe_plan(plan),
                resumed_runs: self.resumed_runs,
                waited_minutes: self.pause.waited_ms() as f64 / 60_000.0,
                ..report::fault_counts(w.events())
            });
            (verdict, report::timelines(w.events(), &waves), report::seats(w), counts, faults)
        });
        let (at_risk, actions) = report::at_risk_and_actions(&waves);
        Ok(Rehearsal {
            scenario,
            description,
            seed: self.seed,
            rate: self.opts.rate,
            customers: counts.0,
            users: counts.1,
            subscriptions: counts.2,
            start: self.start,
            end,
            requests: self.pc.requests_sent(),
            wall_seconds,
            migration_minutes: self.migration.num_milliseconds() as f64 / 60_000.0,
            verdict,
            series,
            timelines,
            seats,
            at_risk,
            actions,
            waves,
            faults,
            resumed_runs: self.resumed_runs,
            token_renewals: self.opts.token_lifetime.map(|_| self.pc.token_renewals()),
            new_commerce,
            shards: 1,
        })
    }
}

/// How the rehearsal's client signs in: a fixed app+user token, or the refresh-token flow
/// against the mock's authority with short-lived tokens (random secrets, never the seed's).
enum SignIn {
    Fixed(String),
    RefreshToken { client_id: String, secret: String, refresh: String, tenant: String },
}

impl SignIn {
    fn prepare(world: &mut World, lifetime: Option<u32>) -> anyhow::Result<Self> {
        let Some(lifetime) = lifetime else {
            return Ok(SignIn::Fixed(
                mock_server::mint_token(world, None, TokenMode::AppUser, None).map_err(|e| anyhow!("{e}"))?,
            ));
        };
        let secret =
            |p: &str| mock_server::http::signin::secret(p).ok_or_else(|| anyhow!("no randomness for a secret"));
        let (client_id, secret_value, refresh) =
            (secret("rehearsal-app")?, secret("rehearsal-secret")?, secret("rehearsal-rt")?);
        let app = world
            .register_app(None, (client_id, secret_value.clone(), refresh.clone()), lifetime)
            .map_err(|e| anyhow!("token lifetime: {e}"))?;
        Ok(SignIn::RefreshToken {
            client_id: app.client_id,
            secret: secret_value,
            refresh,
            tenant: app.partner.to_string(),
        })
    }

    fn credentials(&self, mock: &Mock, pause: Arc<VirtualPause>) -> Arc<dyn Credentials> {
        match self {
            SignIn::Fixed(token) => Arc::new(Fixed(Secret::new(token.clone()))),
            SignIn::RefreshToken { client_id, secret, refresh, tenant } => {
                let authority = Authority {
                    url: "the mock's authority".into(),
                    tenant: tenant.clone(),
                    resource: "https://api.partnercenter.microsoft.com".into(),
                };
                let grant = Grant::RefreshToken {
                    client_id: client_id.clone(),
                    client_secret: Secret::new(secret.clone()),
                    refresh_token: Secret::new(refresh.clone()),
                };
                let transport = InProcess::new(mock_server::app(mock.clone()));
                Arc::new(OAuth::new(transport, authority, grant, Arc::new(VirtualClock(mock.clone())), pause))
            }
        }
    }
}

/// The mock's virtual clock, for token expiry.
struct VirtualClock(Mock);

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.read(|w| w.now())
    }
}

/// Customers of the scenario's partner-to-be: those who will accept an invitation later, or
/// who have no reseller at all.
fn prospects(w: &World) -> Vec<String> {
    let partner = w.partners().first().map(|p| p.id);
    w.all_customers()
        .filter(|c| partner.is_some_and(|p| !c.is_customer_of(p)) && (c.accepts.is_some() || c.resellers.is_empty()))
        .map(|c| c.id.to_string())
        .collect()
}
