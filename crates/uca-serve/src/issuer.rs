//! The CA side of the server: the key unlocked once, and short visits to the CA directory.
//!
//! The server never holds the CA lock between requests: the CA stays open ([`HeldCa`]: the
//! configuration, certificates and ledger connection) and each visit takes the lock for one
//! write, so `uca issue`, `uca revoke` and the rest keep working on the same directory while it
//! runs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use time::OffsetDateTime;
use uca_acme::service::{IssueJob, Issued};
use uca_acme::{Identifier, Problem, ProblemType};
use uca_ca::{AcmeOrigin, AcmeStep, Ca, CaError, CertRecord, HeldCa, Source, Status};
use uca_pki::crl::RevocationReason;
use uca_pki::sign::{CaSigner, LeafRequest};
use uca_pki::validity::{BACKDATE, Validity};
use uca_pki::{Profile, Serial, Subject};

/// What the server needs of the CA, with the key unlocked.
pub struct Issuer {
    dir: PathBuf,
    /// Where it is (for the health check of a database ledger).
    ledger_location: uca_ca::LedgerLocation,
    /// This server's name in the ledger's pending rows.
    node: String,
    signer: CaSigner,
    /// This CA's certificate and the ones above it, PEM: appended to every leaf.
    chain_pem: String,
    subject: Subject,
    /// The CA certificate's SubjectPublicKeyInfo (checks CRLs the CLI wrote).
    ca_spki: Vec<u8>,
    /// The CA certificate's subject key identifier (ARI certificate IDs name it).
    ca_key_id: Option<Vec<u8>>,
    /// The uca profile ACME certificates get (`both` unless `[acme] profile` says otherwise).
    pub profile: Profile,
    /// The CA, kept open between the server's visits, one at a time.
    held: Mutex<HeldCa>,
    /// Issuance steps waiting for the next ledger commit (group commit).
    queue: Mutex<Vec<Arc<Slot>>>,
    /// The flushes those commits owe, one at a time.
    flusher: Flusher,
}

/// Serializes the ledger flushes the group commit owes: one at a time, each covering every
/// commit made before it started. Commits that land while a flush is under way share the next
/// one instead of each starting its own (a flush is a disk round trip; a commit without it a
/// fraction of one).
struct Flusher {
    state: Mutex<FlushState>,
    /// Signalled when a flush ends.
    ended: Condvar,
}

struct FlushState {
    /// Commits made so far that owe a flush (each gets the next number as its ticket).
    committed: u64,
    /// Every commit up to this ticket is durable.
    durable: u64,
    flushing: bool,
}

/// Ends the flush under way even if the flush itself panics, so the waiters go on.
struct FlushUnderWay<'a>(&'a Flusher);

impl Drop for FlushUnderWay<'_> {
    fn drop(&mut self) {
        self.0.state().flushing = false;
        self.0.ended.notify_all();
    }
}

impl Flusher {
    fn new() -> Flusher {
        Flusher {
            state: Mutex::new(FlushState {
                committed: 0,
                durable: 0,
                flushing: false,
            }),
            ended: Condvar::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FlushState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A ticket for a commit that owes a flush; taken while the CA is still held, so tickets
    /// follow commit order.
    fn ticket(&self) -> u64 {
        let mut state = self.state();
        state.committed += 1;
        state.committed
    }

    /// Returns once the commit with `ticket` is durable: covered by a flush that started after
    /// it, or flushed here through `flush` (a flush of the log covers every commit before it).
    fn make_durable(
        &self,
        ticket: u64,
        flush: impl FnOnce() -> Result<(), CaError>,
    ) -> Result<(), CaError> {
        let mut state = self.state();
        loop {
            if state.durable >= ticket {
                return Ok(());
            }
            if !state.flushing {
                break;
            }
            state = self.ended.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.flushing = true;
        let covers = state.committed;
        drop(state);
        let under_way = FlushUnderWay(self);
        let flushed = flush();
        if flushed.is_ok() {
            let mut state = self.state();
            state.durable = state.durable.max(covers);
        }
        // A failed flush advances nothing: each waiter then flushes for itself.
        drop(under_way);
        flushed
    }
}

/// One step of an issuance waiting for the next ledger commit, and, once the commit that took
/// it is durable, how it went (whether the step took).
struct Slot {
    step: AcmeStep,
    state: Mutex<SlotState>,
    /// Signalled when the state becomes `Done`.
    done: Condvar,
}

/// Answers the slots a visit took and left without an outcome.
struct Unanswered<'a>(&'a [Arc<Slot>]);

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        for s in self.0 {
            if matches!(*s.state(), SlotState::Taken) {
                s.finish(Err(Problem::internal(
                    "the ledger commit that took this step did not finish",
                )));
            }
        }
    }
}

enum SlotState {
    /// In the queue: the next visit takes it.
    Queued,
    /// Committed by a visit whose sync is still under way.
    Taken,
    Done(Result<bool, Problem>),
}

impl Slot {
    fn new(step: AcmeStep) -> Slot {
        Slot {
            step,
            state: Mutex::new(SlotState::Queued),
            done: Condvar::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_queued(&self) -> bool {
        matches!(*self.state(), SlotState::Queued)
    }

    fn mark_taken(&self) {
        *self.state() = SlotState::Taken;
    }

    fn finish(&self, outcome: Result<bool, Problem>) {
        *self.state() = SlotState::Done(outcome);
        self.done.notify_all();
    }

    /// Waits until the visit that took this step has made it durable; its outcome.
    fn outcome(&self) -> Result<bool, Problem> {
        let mut state = self
            .done
            .wait_while(self.state(), |s| !matches!(s, SlotState::Done(_)))
            .unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *state, SlotState::Taken) {
            SlotState::Done(outcome) => outcome,
            SlotState::Queued | SlotState::Taken => Err(Problem::internal(
                "an issuance step was lost from its commit",
            )),
        }
    }
}

/// A revocation refused by the ledger.
#[derive(Debug)]
pub enum RevokeRefusal {
    NotFound,
    AlreadyRevoked,
    Failed(String),
}

fn ledger_problem(e: &CaError) -> Problem {
    Problem::internal(format!("the CA's ledger could not record it: {e}"))
}

impl Issuer {
    /// Takes what the server needs from an open CA and its unlocked key.
    pub fn new(ca: &Ca, signer: CaSigner, profile: Profile) -> Issuer {
        Issuer {
            dir: ca.paths.dir.clone(),
            held: Mutex::new(HeldCa::new(&ca.paths.dir, &ca.ledger_access)),
            ledger_location: ca.ledger_location.clone(),
            node: uca_ca::ledger::node_name(&ca.paths),
            signer,
            chain_pem: ca.chain_pem().to_string(),
            subject: ca.config.subject.clone(),
            ca_spki: ca.cert_info().spki_der.clone(),
            ca_key_id: ca.cert_info().subject_key_id.clone(),
            profile,
            queue: Mutex::new(Vec::new()),
            flusher: Flusher::new(),
        }
    }

    /// Whether the ledger can take a write now, for `/healthz`: a database ledger must answer
    /// and be a primary (not a standby, not a primary demoted by a failover). The embedded
    /// ledger is local to the process and always ready; it is not opened here, so a check
    /// never waits behind the CLI.
    pub fn ledger_ready(&self) -> Result<(), String> {
        if !self.ledger_location.is_postgres() {
            return Ok(());
        }
        let ledger = self
            .ledger_location
            .open_fresh(&self.node)
            .map_err(|e| e.to_string())?;
        match ledger.writable() {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!(
                "{} is read-only (a standby): waiting for a writable primary",
                self.ledger_location
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// This server's name in the ledger (pending rows, leases).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether the ledger is a database other writers share (replicas, the CLI elsewhere).
    pub fn ledger_is_shared(&self) -> bool {
        self.ledger_location.is_postgres()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn signer(&self) -> &CaSigner {
        &self.signer
    }

    pub fn ca_key_id(&self) -> Option<&[u8]> {
        self.ca_key_id.as_deref()
    }

    /// What the ledger says of a certificate of this CA, for its ARI window.
    pub fn renewal_facts(
        &self,
        serial: &Serial,
    ) -> Result<Option<uca_acme::service::RenewalFacts>, CaError> {
        self.visit(|ca| {
            Ok(ca
                .ledger()
                .by_serial(serial)?
                .map(|r| uca_acme::service::RenewalFacts {
                    not_before: r.not_before.unix_timestamp(),
                    not_after: r.not_after.unix_timestamp(),
                    revoked: r.status == Status::Revoked,
                }))
        })
    }

    pub fn ca_spki(&self) -> &[u8] {
        &self.ca_spki
    }

    pub fn chain_pem(&self) -> &str {
        &self.chain_pem
    }

    /// Visits the CA for one write (blocking while a CLI command holds it).
    pub fn visit<T>(&self, f: impl FnOnce(&mut Ca) -> Result<T, CaError>) -> Result<T, CaError> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).visit(f)
    }

    /// Signs an order's certificate and records it in the ledger, durably, before anyone sees
    /// it. On a shared ledger the row is reserved before signing (so two replicas never both
    /// sign one order, and every certificate signed is accounted for by serial) and completed
    /// after; on an embedded ledger it is recorded once, after signing. The client gets the
    /// certificate only once that commit is durable. Blocking: call from a blocking thread.
    pub fn issue(&self, job: &IssueJob, now: OffsetDateTime) -> Result<Issued, Problem> {
        self.issue_timed(job, now).map(|(issued, _)| issued)
    }

    /// [`Issuer::issue`], also saying how long the ledger writes took (seconds, CA lock
    /// included).
    pub fn issue_timed(
        &self,
        job: &IssueJob,
        now: OffsetDateTime,
    ) -> Result<(Issued, f64), Problem> {
        let at = |unix: i64| {
            OffsetDateTime::from_unix_timestamp(unix)
                .map_err(|_| Problem::malformed("the order's validity window is out of range"))
        };
        // Backdated like `uca issue`, so a client with a slow clock accepts it at once.
        let requested_start = at(job.not_before)?;
        let start = if job.order.not_before.is_some() {
            requested_start
        } else {
            requested_start - BACKDATE
        };
        let validity = Validity::between(start, at(job.not_after)?, Some(self.signer.window()))
            .map_err(|e| Problem::new(ProblemType::ServerInternal, e.to_string()))?;
        let profile = match job.order.profile.as_deref() {
            Some(name) => name.parse::<Profile>().map_err(|_| {
                Problem::new(
                    ProblemType::InvalidProfile,
                    format!("unknown profile '{name}'"),
                )
            })?,
            None => self.profile,
        };
        let sans: Vec<uca_pki::San> = job.order.identifiers.iter().map(Identifier::san).collect();
        let name = ledger_name(&job.order.identifiers);
        let cn = match job.order.identifiers.first() {
            Some(Identifier::Dns(n)) if !n.starts_with("*.") || n.len() <= 64 => Some(n.as_str()),
            _ => None,
        };
        let serial = Serial::random().map_err(|e| Problem::internal(e.to_string()))?;
        let reservation = CertRecord::reserved(
            serial.clone(),
            &name,
            profile.as_str(),
            job.csr.key_type.as_str(),
            &sans,
            &validity,
            AcmeOrigin {
                account: job.order.account.clone(),
                order: job.order.id.clone(),
            },
            now,
        );
        let leaf = LeafRequest {
            subject: self.subject.with_common_name(cn),
            sans,
            profile,
            validity,
            serial: serial.clone(),
        };
        let replaces = job
            .order
            .replaces
            .as_deref()
            .and_then(|id| uca_acme::service::CertId::parse(id).ok())
            .map(|id| id.serial);

        // A shared ledger has replicas racing for the order: its row is reserved before
        // signing. An embedded ledger has none (one server owns it, and the ACME store's claim
        // already gives the order to one finalization): the certificate is signed first and
        // recorded in one step, one ledger write instead of two.
        let reserve = self.ledger_is_shared();
        let started = std::time::Instant::now();
        if reserve && !self.commit_step(AcmeStep::Reserve(reservation.clone()))? {
            return self.live_row_of(job, started);
        }
        let mut commit = started.elapsed().as_secs_f64();
        let cert = match self.signer.sign_leaf_for(&leaf, &job.csr.public_key) {
            Ok(cert) => cert,
            Err(e) => {
                // Nothing was signed: the order may be finalized again at once. (If this void
                // is lost, repair voids the reservation once it is old.)
                if reserve {
                    let _ = self.commit_step(AcmeStep::Abandon(serial));
                }
                return Err(Problem::new(ProblemType::BadCsr, e.to_string()));
            }
        };
        stall_before_completing();
        let record = reservation.signed(&cert, OffsetDateTime::now_utc());
        let completing = std::time::Instant::now();
        let step = if reserve {
            AcmeStep::Complete { record, replaces }
        } else {
            AcmeStep::Record { record, replaces }
        };
        let completed = match self.commit_step(step) {
            Ok(completed) => completed,
            Err(p) if p.undecided => return Err(p),
            Err(p) => {
                // Refused: void the reservation so the order can be finalized again at once.
                // (If the completion did commit after all, this does not take, and the next
                // finalize gets that certificate from the ledger.)
                if reserve {
                    let _ = self.commit_step(AcmeStep::Abandon(serial));
                }
                return Err(p);
            }
        };
        commit += completing.elapsed().as_secs_f64();
        if !completed {
            if !reserve {
                // The order already had its row: what it holds is the order's; the
                // certificate signed here is dropped undelivered.
                return self.live_row_of(job, completing);
            }
            return Err(Problem::internal(
                "this server stalled while signing and the order's reservation was settled in the meantime: \
                 the certificate was not recorded and is not delivered; finalize the order again",
            ));
        }
        let chain = format!("{}{}", cert.pem, ensure_newline(&self.chain_pem));
        Ok((
            Issued {
                serial: cert.serial.hex(),
                chain_pem: chain,
                not_after: leaf.validity.not_after.unix_timestamp(),
            },
            commit,
        ))
    }

    /// What to answer when the order already has its live row in the ledger. Completed: that
    /// certificate is the order's (the store's lazy record of it was lost, e.g. in a failover);
    /// else another server is signing it now.
    fn live_row_of(
        &self,
        job: &IssueJob,
        since: std::time::Instant,
    ) -> Result<(Issued, f64), Problem> {
        let live = self
            .visit(|ca| ca.ledger().by_acme_order(&job.order.id))
            .map_err(|e| ledger_problem(&e))?;
        match live {
            Some(rec) if rec.is_signed() => {
                Ok((self.issued_from(&rec), since.elapsed().as_secs_f64()))
            }
            _ => Err(Problem::new(
                ProblemType::OrderNotReady,
                "another server is signing this order's certificate now; finalize again in a few seconds",
            )),
        }
    }

    /// Records one issuance step; whether it took. Group commit: the steps of concurrent
    /// finalizations queue up while one visit to the CA is under way, and the next visit
    /// records all of them in one transaction; the log is flushed once (when it completes
    /// any) after the visit has let go of the CA, and each caller returns once its own step is
    /// durable.
    fn commit_step(&self, step: AcmeStep) -> Result<bool, Problem> {
        let slot = Arc::new(Slot::new(step));
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(slot.clone());
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        // An earlier visit may have taken this step along; its sync may still be under way.
        if !slot.is_queued() {
            drop(held);
            return slot.outcome();
        }
        let batch: Vec<Arc<Slot>> =
            std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
        for s in &batch {
            s.mark_taken();
        }
        // Should this visit end without an outcome for them (a panic), the steps it took are
        // answered anyway: their callers must not wait forever.
        let _unanswered = Unanswered(&batch);
        let steps: Vec<AcmeStep> = batch.iter().map(|s| s.step.clone()).collect();
        let committed = held.visit(|ca| {
            // `uca seal` on the CLI ends issuance here too, though the key is still in memory.
            ca.ensure_not_sealed()?;
            ca.record_acme_owing_sync(&steps, OffsetDateTime::now_utc())
        });
        let owed =
            committed.map(|(took, sync)| (took, sync.map(|sync| (self.flusher.ticket(), sync))));
        // The next batch commits while this one's log is flushed: one visit to the CA is a
        // fraction of a millisecond, a flush about one millisecond on a good disk.
        drop(held);
        let committed = owed.and_then(|(took, owed)| {
            if let Some((ticket, sync)) = owed {
                self.flusher.make_durable(ticket, || sync.finish())?;
            }
            Ok(took)
        });
        let outcomes: Vec<Result<bool, Problem>> = match committed {
            Ok(took) => took.into_iter().map(Ok).collect(),
            Err(e) => {
                let problem = match e {
                    CaError::Sealed { .. } => Problem::unauthorized(
                        "this CA has been sealed and issues no more certificates",
                    ),
                    CaError::Ledger(uca_ca::LedgerError::CommitUnknown { .. }) => {
                        Problem::undecided(format!(
                            "{e}; the order is settled from the ledger once the database is back: poll it, and finalize it again if it is ready"
                        ))
                    }
                    CaError::Ledger(uca_ca::LedgerError::SyncUnknown { .. }) => {
                        Problem::undecided(format!(
                            "{e}; the order is settled from the ledger: poll it, and finalize it again if it is ready"
                        ))
                    }
                    other => ledger_problem(&other),
                };
                vec![Err(problem); batch.len()]
            }
        };
        let mut mine = None;
        for (s, outcome) in batch.iter().zip(outcomes) {
            if Arc::ptr_eq(s, &slot) {
                mine = Some(outcome);
            } else {
                s.finish(outcome);
            }
        }
        mine.unwrap_or_else(|| {
            Err(Problem::internal(
                "an issuance step was lost from its commit",
            ))
        })
    }

    /// Revokes a certificate of this CA in the ledger (blocking).
    pub fn revoke(
        &self,
        serial: &Serial,
        fingerprint: &str,
        reason: RevocationReason,
        now: OffsetDateTime,
    ) -> Result<(), RevokeRefusal> {
        self.visit(|ca| {
            let Some(rec) = ca.ledger().by_serial(serial)? else {
                return Ok(Err(RevokeRefusal::NotFound));
            };
            if rec.fingerprint_sha256 != fingerprint || rec.source == Source::Root {
                return Ok(Err(RevokeRefusal::NotFound));
            }
            if rec.status == Status::Revoked {
                return Ok(Err(RevokeRefusal::AlreadyRevoked));
            }
            ca.revoke(&serial.hex(), reason, now)?;
            Ok(Ok(()))
        })
        .unwrap_or_else(|e| Err(RevokeRefusal::Failed(e.to_string())))
    }

    /// What the ledger says of these orders, as [`Acme::repair`] wants it: the certificates
    /// they obtained, by order ID, with the chain, and which are being signed now. A
    /// reservation of a finalization that was given up (the order is still `processing`: its
    /// claim expired, or was this server's before a restart) is voided, only while still
    /// pending: if its server completed it meanwhile, that certificate is the order's. With
    /// `reserved_before`, only a reservation made before then counts as given up: a younger one
    /// belongs to a claim taken since the order was read, and its order is reported as being
    /// signed (the sweep passes its claim age; a restart passes `None`, as nothing of its own is
    /// being signed). A reservation older than [`uca_ca::ledger::ABANDONED_AFTER`] is voided
    /// in any case. `Err` when the ledger cannot say (repair must then not guess).
    ///
    /// [`Acme::repair`]: uca_acme::Acme::repair
    pub fn issued_of(
        &self,
        orders: &[uca_acme::model::Order],
        reserved_before: Option<OffsetDateTime>,
    ) -> Result<uca_acme::service::LedgerView, CaError> {
        let now = OffsetDateTime::now_utc();
        self.visit(|ca| {
            let mut view = uca_acme::service::LedgerView::default();
            let mut given_up = Vec::new();
            for order in orders {
                let Some(rec) = ca.ledger().by_acme_order(&order.id)? else {
                    continue;
                };
                if rec.is_signed() {
                    view.issued.insert(order.id.clone(), self.issued_from(&rec));
                    continue;
                }
                let claim_given_up = order.status == uca_acme::model::OrderStatus::Processing
                    && reserved_before.is_none_or(|t| rec.created_at < t);
                if claim_given_up || now - rec.created_at > uca_ca::ledger::ABANDONED_AFTER {
                    given_up.push((order.id.clone(), rec.serial));
                } else {
                    view.signing.insert(order.id.clone());
                }
            }
            if given_up.is_empty() {
                return Ok(view);
            }
            let steps: Vec<AcmeStep> = given_up
                .iter()
                .map(|(_, serial)| AcmeStep::Abandon(serial.clone()))
                .collect();
            let took = ca.record_acme(&steps, now)?;
            for ((order, _), voided) in given_up.iter().zip(took) {
                if !voided
                    && let Some(rec) = ca.ledger().by_acme_order(order)?
                    && rec.is_signed()
                {
                    view.issued.insert(order.clone(), self.issued_from(&rec));
                }
            }
            Ok(view)
        })
    }

    /// The chain a client gets for a ledger row of this CA.
    fn issued_from(&self, rec: &CertRecord) -> Issued {
        Issued {
            serial: rec.serial.hex(),
            chain_pem: format!("{}{}", rec.cert_pem, ensure_newline(&self.chain_pem)),
            not_after: rec.not_after.unix_timestamp(),
        }
    }
}

/// Test hook, in debug builds only: `UCA_TEST_STALL_BEFORE_COMPLETE_MS` makes every issuance
/// wait that long between signing and completing its row, as a replica frozen at that moment
/// would (the failover tests need the moment exactly).
#[cfg(debug_assertions)]
fn stall_before_completing() {
    if let Some(ms) = std::env::var("UCA_TEST_STALL_BEFORE_COMPLETE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

#[cfg(not(debug_assertions))]
fn stall_before_completing() {}

/// The ledger NAME of an ACME certificate: its first identifier.
fn ledger_name(ids: &[Identifier]) -> String {
    ids.first().map(Identifier::value).unwrap_or_default()
}

fn ensure_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

#[cfg(test)]
mod flusher_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use super::Flusher;
    use uca_ca::{CaError, LedgerError};

    fn failed() -> CaError {
        CaError::Ledger(LedgerError::SyncUnknown {
            path: "ledger.sqlite-wal".into(),
            source: std::io::Error::other("disk gone"),
        })
    }

    #[test]
    fn a_flush_covers_every_commit_before_it_and_a_failed_one_none() {
        let flusher = Flusher::new();
        let flushes = AtomicUsize::new(0);
        let flush = || {
            flushes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        let first = flusher.ticket();
        let second = flusher.ticket();
        assert!(flusher.make_durable(second, flush).is_ok());
        assert!(flusher.make_durable(first, flush).is_ok());
        assert_eq!(
            flushes.load(Ordering::SeqCst),
            1,
            "the second's flush covered the first"
        );

        let third = flusher.ticket();
        assert!(flusher.make_durable(third, || Err(failed())).is_err());
        assert!(flusher.make_durable(third, flush).is_ok());
        assert_eq!(
            flushes.load(Ordering::SeqCst),
            2,
            "a failed flush made nothing durable"
        );

        let fourth = flusher.ticket();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            flusher.make_durable(fourth, || panic!("flush panicked"))
        }));
        assert!(panicked.is_err());
        assert!(
            flusher.make_durable(fourth, flush).is_ok(),
            "a panicked flush ends too"
        );
        assert_eq!(flushes.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn commits_made_during_a_flush_share_the_next_one() {
        const WAITERS: usize = 4;
        let flusher = Arc::new(Flusher::new());
        let flushes = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(WAITERS + 1));
        let first = flusher.ticket();
        let leader = {
            let (flusher, flushes, started, release) = (
                flusher.clone(),
                flushes.clone(),
                started.clone(),
                release.clone(),
            );
            std::thread::spawn(move || {
                flusher.make_durable(first, || {
                    flushes.fetch_add(1, Ordering::SeqCst);
                    started.wait();
                    // Every later commit has its ticket before this flush ends.
                    release.wait();
                    Ok(())
                })
            })
        };
        started.wait();
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| {
                let (flusher, flushes, release) =
                    (flusher.clone(), flushes.clone(), release.clone());
                let ticket = flusher.ticket();
                std::thread::spawn(move || {
                    release.wait();
                    flusher.make_durable(ticket, || {
                        flushes.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    })
                })
            })
            .collect();
        assert!(leader.join().unwrap().is_ok());
        for w in waiters {
            assert!(w.join().unwrap().is_ok());
        }
        assert_eq!(
            flushes.load(Ordering::SeqCst),
            2,
            "one flush, then one for all the rest"
        );
    }
}
