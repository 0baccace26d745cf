//! The journal's two stores: rehearsals keep it in memory, `apply` in a SQLite file, and the
//! engine must not be able to tell them apart.

use skuswap_migrator::journal::Journal;
use skuswap_tests::TestResult;
use skuswap_tests::engine::journal_path;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// A rehearsal's journal in memory keeps what the SQLite file keeps, call for call: the same
/// body against both, steps out of order and repeated, then every reading compared.
#[test]
fn a_journal_in_memory_keeps_what_a_file_keeps() -> TestResult {
    use skuswap_migrator::journal::{StepRecord, StepState};
    use skuswap_migrator::plan::StepKind;
    type Readings = (Vec<StepRecord>, Vec<usize>, Vec<Option<StepRecord>>);
    let body = |j: &Journal| -> BoxResult<Readings> {
        j.intend("c2", 3, StepKind::Suspend, "r-c2-3")?;
        j.intend("c1", 0, StepKind::Buy, "r-c1-0")?;
        j.finish("c1", 0, StepState::Done, "subscription s-1")?;
        j.intend("c1", 1, StepKind::Swap, "r-c1-1")?;
        j.finish("c1", 1, StepState::Failed, "assigned a, removed b")?;
        // Resumed: a second attempt of the same step keeps its first request id.
        j.intend("c1", 1, StepKind::Swap, "r-c1-1-again")?;
        j.finish("c1", 1, StepState::Done, "assigned a, removed b")?;
        // No intent before: nothing to finish.
        j.finish("c3", 0, StepState::Done, "ignored")?;
        let counts = ["c1", "c2", "c3"].iter().map(|c| j.done_count(c)).collect::<Result<_, _>>()?;
        let steps = [("c1", 1), ("c2", 0), ("c2", 3), ("c2", 4), ("c3", 0)]
            .iter()
            .map(|(c, i)| j.step(c, *i))
            .collect::<Result<_, _>>()?;
        Ok((j.records()?, counts, steps))
    };
    let in_memory = body(&Journal::in_memory())?;
    let in_file = body(&Journal::open(&journal_path("same-as-memory"))?)?;
    assert_eq!(in_memory, in_file);
    let (records, counts, _) = &in_memory;
    assert_eq!(counts, &[2, 0, 0]);
    let c1 = &records[1];
    assert_eq!((c1.index, c1.attempts, c1.request_id.as_str(), c1.kind.as_str()), (1, 2, "r-c1-1", "swap"));
    assert_eq!(
        records.iter().map(|r| (r.customer.as_str(), r.index)).collect::<Vec<_>>(),
        [("c1", 0), ("c1", 1), ("c2", 3)]
    );
    Ok(())
}
