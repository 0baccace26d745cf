//! The command-line layer's own logic: a saved plan that no longer matches the server is
//! refused with the difference named and nothing changed; exit codes scripts can trust.

use std::sync::Arc;

use skuswap_migrator::discover::{DiscoverOptions, discover};
use skuswap_migrator::mapping::Mapping;
use skuswap_migrator::plan::{Policy, plan};
use skuswap_scenarios::cli::EXIT_OK;
use skuswap_scenarios::cli::migrate::{self, ApplyArgs, Format, PlanArgs, StatusArgs, VerifyArgs, first_difference};
use skuswap_scenarios::cli::target::{Planning, Target};
use skuswap_tests::engine::{in_process, journal_path};
use skuswap_tests::{Harness, TestResult, article::*};

#[tokio::test]
async fn a_stale_plan_names_its_first_difference() -> TestResult {
    let h = Harness::article()?;
    let pc = Arc::new(in_process(&h));
    let mapping = Mapping::builtin();
    let policy = Policy { now: h.mock.read(|w| w.now()), requests_per_minute: 500 };
    let before =
        plan(&discover(pc.as_ref(), &mapping, &DiscoverOptions::default(), |_, _| {}).await?, &mapping, &policy)?;
    assert_eq!(first_difference(&before, &before), None);
    // A user of Wingtip is deleted meanwhile: one swap fewer.
    let user = h.holders(WINGTIP, "ax-task")[0].clone();
    h.send(axum::http::Method::DELETE, &format!("/v1/customers/{WINGTIP}/users/{user}"), None, &[]).await;
    let after =
        plan(&discover(pc.as_ref(), &mapping, &DiscoverOptions::default(), |_, _| {}).await?, &mapping, &policy)?;
    let diff = first_difference(&before, &after).ok_or("no difference found")?;
    assert!(diff.starts_with("customer Wingtip Toys:"), "{diff}");
    Ok(())
}

/// A target as the command line would make it from `args`.
fn target(args: &[&str]) -> Target {
    #[derive(clap::Parser)]
    struct Line {
        #[command(flatten)]
        target: Target,
    }
    <Line as clap::Parser>::parse_from(std::iter::once("skuswap").chain(args.iter().copied())).target
}

#[tokio::test]
async fn secrets_are_never_sent_in_cleartext_to_a_remote_authority() -> TestResult {
    let remote =
        target(&["--sign-in", "app", "--authority", "http://login.example.com", "--tenant", "t", "--client-id", "c"]);
    let e = skuswap_scenarios::cli::target::connect(&remote).await.err().ok_or("accepted a cleartext authority")?;
    assert!(e.to_string().contains("https://"), "{e}");
    // Loopback (a local `skuswap serve`) is fine; the missing secret is what stops this one.
    let local = target(&["--sign-in", "app", "--authority", "http://127.0.0.1:9", "--tenant", "t", "--client-id", "c"]);
    let e = skuswap_scenarios::cli::target::connect(&local).await.err().ok_or("signed in without a secret")?;
    assert!(e.to_string().contains("client secret"), "{e}");
    Ok(())
}

fn mock_target() -> Target {
    target(&["--base-url", "http://127.0.0.1:9", "--mock", "article"])
}

fn planning() -> Planning {
    Planning { mapping: None, strategy: None, rate: 500, now: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refuses_a_plan_file_from_another_world_and_accepts_its_own() -> TestResult {
    let dir = std::env::temp_dir().join(format!("skuswap-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let plan_file = dir.join("plan.json");
    let plan_args = PlanArgs { target: mock_target(), planning: planning(), out: plan_file.clone(), json: false };
    assert_eq!(migrate::plan(&plan_args).await?, EXIT_OK);
    // The same scenario with another seed has other user ids: the plan does not match.
    let other = Target { seed: 99, ..mock_target() };
    let apply = |target: Target, journal: std::path::PathBuf| ApplyArgs {
        target,
        planning: planning(),
        plan: Some(plan_file.clone()),
        journal,
        concurrency: 2,
        dry_run: false,
    };
    let err = migrate::apply(&apply(other, journal_path("cli-stale"))).await.err().ok_or("accepted a stale plan")?;
    assert!(err.to_string().contains("no longer matches the server"), "{err}");
    let journal = journal_path("cli-ok");
    assert_eq!(migrate::apply(&apply(mock_target(), journal.clone())).await?, EXIT_OK);
    assert_eq!(migrate::status(&StatusArgs { journal, format: Format::Json })?, EXIT_OK);
    Ok(())
}

#[tokio::test]
async fn missing_token_journal_and_plan_are_errors_not_panics() -> TestResult {
    let http = target(&["--base-url", "http://127.0.0.1:9", "--token-file", "/nonexistent/token"]);
    let args = PlanArgs { target: http, planning: planning(), out: "/tmp/never.json".into(), json: false };
    let e = migrate::plan(&args).await.err().ok_or("no error")?;
    assert!(e.to_string().contains("/nonexistent/token"), "{e}");
    let status = StatusArgs { journal: "/nonexistent/j.db".into(), format: Format::Table };
    assert!(migrate::status(&status).is_err());
    let verify = VerifyArgs { target: mock_target(), plan: None, journal: "/nonexistent/j.db".into() };
    let e = migrate::verify_cmd(&verify).await.err().ok_or("no error")?;
    assert!(e.to_string().contains("no plan"), "{e}");
    Ok(())
}

/// `serve --admin-token-file`: a short or spaced token is refused with the file named, a good
/// one is its first line.
#[test]
fn the_admin_token_file_is_checked_before_serving() -> TestResult {
    use skuswap_scenarios::cli::serve::read_admin_token;
    let dir = std::env::temp_dir().join(format!("skuswap-admin-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("token");
    for bad in ["short", "with spaces in it and long enough to pass the length", ""] {
        std::fs::write(&file, bad)?;
        let err = read_admin_token(&file).err().ok_or("accepted")?;
        assert!(err.to_string().contains(&file.display().to_string()), "{err}");
    }
    let good = "k".repeat(48);
    std::fs::write(&file, format!("{good}\nignored\n"))?;
    assert_eq!(read_admin_token(&file)?, good);
    assert!(read_admin_token(&dir.join("missing")).is_err());
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
