//! `quiet_catch` (which silences progenitor's panics) must not silence a panic on
//! another thread, as a drift test's did when tests ran in parallel. Its own test
//! binary, apart from tests/it/: it installs a process-wide panic hook to watch
//! what gets reported, which would see the other tests' panics.

use std::sync::{Arc, Barrier, Mutex};

use cloudflare_images_codegen::quiet_catch;

#[test]
fn a_panic_on_another_thread_is_reported_while_generation_is_quiet() {
    let reported = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = reported.clone();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default();
        sink.lock().unwrap().push(msg);
    }));

    let inside = Arc::new(Barrier::new(2));
    let done = Arc::new(Barrier::new(2));
    let quiet = {
        let (inside, done) = (inside.clone(), done.clone());
        std::thread::spawn(move || {
            quiet_catch(|| {
                inside.wait();
                done.wait();
                panic!("quiet: inside generation");
            })
        })
    };
    inside.wait();
    // The generator's thread is inside quiet_catch now; another thread panics.
    let loud = std::thread::spawn(|| panic!("loud: another test"));
    assert!(loud.join().is_err());
    done.wait();
    assert_eq!(
        quiet.join().unwrap().unwrap_err(),
        "quiet: inside generation"
    );
    // And after it, panics are still reported.
    assert!(std::thread::spawn(|| panic!("loud: later")).join().is_err());

    let reported = reported.lock().unwrap().clone();
    assert_eq!(reported, ["loud: another test", "loud: later"]);
}
