//! The place a request holds in its caller's admission control, given up while its commit is
//! flushed.
//!
//! The server caps each tenant's requests in progress (the API's per-tenant limit) so that a
//! flood cannot take the whole pool and the cores. Once a transaction's statements have
//! answered, all that is left is the `COMMIT`, which mostly waits for the write-ahead log to
//! reach the disk: no CPU, but a stalling disk can hold it for tens of milliseconds. A request
//! that kept its place through that wait would make its tenant's next requests queue behind a
//! disk, not behind work. So the transaction helpers call [`leave`] as soon as the last
//! statement has answered (the `COMMIT` is already on its way), and [`Db::conn`](crate::Db)
//! calls [`rejoin`] before a request that left its place takes another connection.
//!
//! The place is lent for the duration of a future by [`lend`]; outside one (commands, tests,
//! background tasks) both calls do nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A place in an admission queue, as the caller implements it.
pub trait Place: Send + Sync {
    /// Gives the place up (the request's remaining work is a commit's flush). Idempotent.
    fn leave(&self);
    /// Whether the place was given up and not taken again.
    fn left(&self) -> bool;
    /// Waits for a place again, in the same queue as any other request.
    fn rejoin(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

tokio::task_local! {
    static PLACE: Arc<dyn Place>;
}

/// Runs `work` with `place` lent to the transactions it makes.
pub async fn lend<F: Future>(place: Arc<dyn Place>, work: F) -> F::Output {
    PLACE.scope(place, work).await
}

/// Gives the current request's place up, if it holds one.
pub(crate) fn leave() {
    let _ = PLACE.try_with(|place| place.leave());
}

/// Takes a place again, if the current request gave its place up.
pub(crate) async fn rejoin() {
    let Ok(place) = PLACE.try_with(|place| place.left().then(|| place.clone())) else { return };
    if let Some(place) = place {
        place.rejoin().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Counted {
        left: AtomicUsize,
        rejoined: AtomicUsize,
    }

    impl Place for Counted {
        fn leave(&self) {
            self.left.fetch_add(1, Ordering::SeqCst);
        }
        fn left(&self) -> bool {
            self.left.load(Ordering::SeqCst) > self.rejoined.load(Ordering::SeqCst)
        }
        fn rejoin(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            Box::pin(async {
                self.rejoined.fetch_add(1, Ordering::SeqCst);
            })
        }
    }

    #[tokio::test]
    async fn a_lent_place_is_left_and_rejoined_only_inside_its_future() {
        let place = Arc::new(Counted::default());
        leave();
        rejoin().await;
        lend(place.clone(), async {
            rejoin().await;
            assert_eq!(place.rejoined.load(Ordering::SeqCst), 0, "a place held is not taken twice");
            leave();
            rejoin().await;
            rejoin().await;
        })
        .await;
        assert_eq!(place.left.load(Ordering::SeqCst), 1);
        assert_eq!(place.rejoined.load(Ordering::SeqCst), 1, "taken again once, when it had been left");
        leave();
        assert_eq!(place.left.load(Ordering::SeqCst), 1, "outside its future the place is not reached");
    }
}
