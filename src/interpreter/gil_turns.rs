//! Turns at the GIL for requests, first come first served when some starve.
//!
//! CPython hands a released GIL to whichever thread asks first, not to the
//! one that has waited longest. With many request threads and Python-bound
//! requests, a thread can lose the GIL to newcomers again and again: in a
//! child of 25 threads serving 1 ms of Python each, one request in a hundred
//! waited six times the median. So, as Go's mutex does, a request thread
//! goes straight to the GIL while waits are short; once one has waited
//! longer than [`STARVING`], newcomers queue, the threads already on their
//! way get the GIL first, and from then on one thread at a time goes, each
//! letting the next in line go once it holds the GIL. The order ends as
//! soon as a turn comes quickly again, because hand-offs cost a thread
//! wake-up each.
//!
//! Only request entry is ordered: a thread taking the GIL back inside the
//! application (after a sleep or a database call) goes to CPython directly.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// A wait for the GIL longer than this starts first-come-first-served order.
const STARVING: Duration = Duration::from_millis(1);

pub struct GilTurns {
    state: Mutex<State>,
}

struct State {
    /// Someone starved: newcomers queue while anyone is on the way.
    in_order: bool,
    /// Threads that entered and have not yet got the GIL.
    on_the_way: usize,
    waiting: VecDeque<Waiter>,
}

struct Waiter {
    thread: Thread,
    turn: Arc<AtomicBool>,
    since: Instant,
}

/// A thread's way to the GIL; `got_gil` once it holds it.
pub struct Entry<'a> {
    turns: &'a GilTurns,
    since: Instant,
}

impl GilTurns {
    pub const fn new() -> Self {
        Self {
            state: Mutex::new(State {
                in_order: false,
                on_the_way: 0,
                waiting: VecDeque::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent between statements: a panic elsewhere
        // cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for this thread's turn to ask for the GIL.
    pub fn enter(&self) -> Entry<'_> {
        let since = Instant::now();
        let mut state = self.state();
        if !state.in_order || state.on_the_way == 0 {
            state.on_the_way += 1;
            return Entry { turns: self, since };
        }
        let turn = Arc::new(AtomicBool::new(false));
        state.waiting.push_back(Waiter {
            thread: std::thread::current(),
            turn: turn.clone(),
            since,
        });
        drop(state);
        // park() may return spuriously; the flag says the turn is ours.
        while !turn.load(Ordering::Acquire) {
            std::thread::park();
        }
        Entry { turns: self, since }
    }
}

impl Entry<'_> {
    /// This thread holds the GIL: the next in line may go.
    pub fn got_gil(self) {
        drop(self);
    }
}

impl Drop for Entry<'_> {
    /// Also on unwinding: a turn that is never given back would make every
    /// later request queue for ever.
    fn drop(&mut self) {
        let mut state = self.turns.state();
        state.on_the_way -= 1;
        if self.since.elapsed() > STARVING {
            state.in_order = true;
        }
        if state.in_order && state.on_the_way > 0 {
            // Those already on the way go first; the last of them lets the
            // next in line go.
            return;
        }
        let Some(next) = state.waiting.pop_front() else {
            state.in_order = false;
            return;
        };
        if next.since.elapsed() <= STARVING {
            state.in_order = false;
        }
        state.let_go(next);
        if !state.in_order {
            // Out of order: nobody stays queued behind newcomers.
            while let Some(waiter) = state.waiting.pop_front() {
                state.let_go(waiter);
            }
        }
    }
}

impl State {
    fn let_go(&mut self, waiter: Waiter) {
        self.on_the_way += 1;
        waiter.turn.store(true, Ordering::Release);
        waiter.thread.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;

    /// A request: its turn, then `with_gil` run holding a stand-in for the
    /// GIL.
    fn request(turns: &'static GilTurns, gil: &'static Mutex<()>, with_gil: impl FnOnce()) {
        let entry = turns.enter();
        let _gil = gil.lock().unwrap_or_else(|e| e.into_inner());
        entry.got_gil();
        with_gil();
    }

    /// Waits (at most 5 s) until `ready` holds.
    fn wait_until(what: &str, ready: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ready() {
            assert!(Instant::now() < deadline, "never: {what}");
            std::thread::yield_now();
        }
    }

    #[test]
    fn short_waits_go_straight_to_the_gil() {
        static TURNS: GilTurns = GilTurns::new();
        static GIL: Mutex<()> = Mutex::new(());
        for _ in 0..3 {
            request(&TURNS, &GIL, || {});
        }
        let state = TURNS.state();
        assert!(!state.in_order);
        assert_eq!(state.on_the_way, 0);
        assert!(state.waiting.is_empty());
    }

    #[test]
    fn once_a_thread_starves_newcomers_get_the_gil_in_arrival_order() {
        static TURNS: GilTurns = GilTurns::new();
        static GIL: Mutex<()> = Mutex::new(());
        static LET_GO: AtomicBool = AtomicBool::new(false);
        // Two requests wait 20 ms for a GIL held elsewhere: starving. Each
        // then keeps the GIL until LET_GO, however slow the machine is.
        let holder = GIL.lock().unwrap();
        let starved: Vec<_> = (0..2)
            .map(|_| {
                std::thread::spawn(|| {
                    request(&TURNS, &GIL, || {
                        wait_until("let go", || LET_GO.load(Ordering::Acquire))
                    })
                })
            })
            .collect();
        wait_until("both on the way", || TURNS.state().on_the_way == 2);
        std::thread::sleep(Duration::from_millis(20));
        drop(holder);
        // The first of them holds the GIL; the other is still on the way,
        // so five newcomers queue, each before the next arrives.
        wait_until("order after a starving wait", || TURNS.state().in_order);
        let (got, order) = mpsc::channel();
        let newcomers: Vec<_> = (0..5)
            .map(|i| {
                let got = got.clone();
                let newcomer = std::thread::spawn(move || {
                    request(&TURNS, &GIL, || {
                        got.send(i).unwrap();
                        // Long enough that the next in line waits over
                        // STARVING, so the order holds to the end.
                        std::thread::sleep(Duration::from_millis(2));
                    })
                });
                wait_until("the newcomer queued", || {
                    TURNS.state().waiting.len() == i + 1
                });
                newcomer
            })
            .collect();
        // Every newcomer has now waited longer than STARVING.
        std::thread::sleep(STARVING * 5);
        LET_GO.store(true, Ordering::Release);
        for thread in starved.into_iter().chain(newcomers) {
            thread.join().unwrap();
        }
        let served: Vec<usize> = order.try_iter().collect();
        assert_eq!(served, vec![0, 1, 2, 3, 4]);
        let state = TURNS.state();
        assert_eq!(state.on_the_way, 0);
        assert!(!state.in_order, "the order ends once nobody waits");
    }
}
