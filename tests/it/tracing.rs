//! Every attempt is a `tracing` span with the operation, method, path template,
//! attempt number, status and `cf-ray`; retries are events with their wait; no
//! credential appears in any field.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cloudflare_images::{Client, RetryPolicy};
use cloudflare_images_emulator::Emulator;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const TOKEN: &str = "tracing-secret-token-4f1c";

/// Records every span's fields and every event as text lines.
#[derive(Clone, Default)]
struct Recorder {
    lines: Arc<Mutex<Vec<String>>>,
    next: Arc<AtomicU64>,
}

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut text = Text(format!("span#{id} {}", span.metadata().name()));
        span.record(&mut text);
        self.lines.lock().unwrap().push(text.0);
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut text = Text(format!("record#{}", span.into_u64()));
        values.record(&mut text);
        self.lines.lock().unwrap().push(text.0);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = Text("event".to_string());
        event.record(&mut text);
        self.lines.lock().unwrap().push(text.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn attempts_are_spans_with_their_outcome_and_no_secret() {
    let recorder = Recorder::default();
    let lines = Arc::clone(&recorder.lines);
    // tracing caches each callsite's interest for the whole process. While only one
    // dispatcher is registered, a callsite first reached on another test's thread
    // (which has no subscriber) is cached as "never", and the recorder would miss
    // the SDK's span. With a second dispatcher registered, tracing asks every
    // registered one instead.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    tracing::subscriber::with_default(recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let emu = Emulator::start().await.unwrap();
            let client = Client::builder()
                .api_token(TOKEN)
                .account_id(emu.account_id())
                .base_url(emu.base_url())
                .retry_policy(
                    RetryPolicy::default().initial_backoff(std::time::Duration::from_millis(1)),
                )
                .build()
                .unwrap();
            emu.faults().fail_next(1, 503);
            client.v1().get("pets/cat").send().await.unwrap_err();
        });
    });
    let lines = lines.lock().unwrap().join("\n");
    assert!(!lines.contains(TOKEN), "{lines}");
    let spans: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("cloudflare_images.request"))
        .collect();
    assert_eq!(spans.len(), 2, "one span per attempt:\n{lines}");
    for (attempt, span) in spans.iter().enumerate() {
        for field in [
            "operation=\"v1_get\"",
            "method=GET",
            "path=\"/accounts/{account_id}/images/v1/{image_id}\"",
            &format!("attempt={attempt}"),
        ] {
            assert!(span.contains(field), "{field} in {span}");
        }
    }
    // The first attempt got the 503 and was retried; the second a 404.
    assert!(lines.contains("status=503"), "{lines}");
    assert!(lines.contains("status=404"), "{lines}");
    assert!(lines.contains("duration_ms="), "{lines}");
    assert!(
        lines
            .lines()
            .any(|l| l.starts_with("event") && l.contains("retrying") && l.contains("wait_ms=")),
        "{lines}"
    );
}
