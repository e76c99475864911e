//! The threads for work that waits on the disk: a finalization waiting for the ledger's flush,
//! a durable account write, a revocation, a checkpoint. They are kept apart from the request
//! threads (the async runtime's blocking pool) so that the many requests that only read the store
//! or write it lazily find a free thread among a few busy ones: a thread that finishes a task
//! picks up the next without sleeping, where a large pool, half of it asleep in `fdatasync`,
//! woke a sleeping thread for nearly every request.

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinError;

/// Threads for work that waits on the disk: finalizations waiting for one ledger flush share
/// it, so a few more of them than cores keep the flushes full.
pub const DISK_THREADS: usize = 16;

/// A pool of threads for blocking work that waits on the disk.
pub struct DiskPool {
    handle: Handle,
    /// Only its blocking pool is used; no task is ever scheduled on it.
    runtime: Option<Runtime>,
}

impl DiskPool {
    /// A pool of at most `threads` threads (started as needed, named `uca-disk`).
    pub fn new(threads: usize) -> std::io::Result<DiskPool> {
        let runtime = Builder::new_current_thread()
            .max_blocking_threads(threads.max(1))
            .thread_name("uca-disk")
            .build()?;
        Ok(DiskPool {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// Runs `f` on one of the pool's threads.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JoinError> {
        self.handle.spawn_blocking(f).await
    }
}

impl Drop for DiskPool {
    /// Lets go of the threads without waiting for them: a pool may be dropped inside the async
    /// runtime (with the server's state), where waiting is not allowed. The server drains its
    /// requests before it gets there.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_runs_on_the_pools_own_threads_and_the_pool_can_be_dropped_in_async_code() {
        let pool = DiskPool::new(2).unwrap();
        let name = pool
            .run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("uca-disk"));
        // More tasks than threads: they queue and all finish.
        let runs: Vec<_> = (0..8u64).map(|i| pool.run(move || i * i)).collect();
        let mut sum = 0;
        for r in runs {
            sum += r.await.unwrap();
        }
        assert_eq!(sum, (0..8u64).map(|i| i * i).sum::<u64>());
        // A panic is the task's, not the pool's.
        assert!(pool.run(|| panic!("boom")).await.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
        drop(pool);
    }
}
