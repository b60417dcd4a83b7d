use super::*;

#[test]
fn webhooks_take_a_format_prefix_or_the_default() {
    let w = Webhook::parse(
        "slack:https://hooks.slack.com/services/T0/B0/XyZ",
        Format::Json,
    )
    .unwrap();
    assert_eq!((w.format(), w.host()), (Format::Slack, "hooks.slack.com"));
    let w = Webhook::parse("https://example.com/hook", Format::Teams).unwrap();
    assert_eq!(w.format(), Format::Teams);
    let w = Webhook::parse(" JSON:http://127.0.0.1:9/h ", Format::Slack).unwrap();
    assert_eq!((w.format(), w.host()), (Format::Json, "127.0.0.1:9"));
}

#[test]
fn a_bad_webhook_is_refused_without_showing_its_secret_path() {
    let e = Webhook::parse(
        "discord:https://discord.com/api/webhooks/1/SECRET",
        Format::Json,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("'discord'") && e.contains("slack, teams, json"),
        "{e}"
    );
    let e = Webhook::parse("ftp://files.example.com/SECRET", Format::Json)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ftp://files.example.com/...") && !e.contains("SECRET"),
        "{e}"
    );
    let e = Webhook::parse("https://user:SECRET@hooks.example.com/x", Format::Json)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no user or password") && !e.contains("SECRET"),
        "{e}"
    );
    let e = Webhook::parse("hooks.slack.com/services/SECRET", Format::Json)
        .unwrap_err()
        .to_string();
    assert!(!e.contains("SECRET"), "{e}");
    let debug = format!(
        "{:?}",
        Notifications::new().webhook(
            Webhook::parse(
                "slack:https://hooks.slack.com/services/T0/B0/SECRET",
                Format::Json
            )
            .unwrap()
        )
    );
    assert!(
        !debug.contains("SECRET") && debug.contains("hooks.slack.com"),
        "{debug}"
    );
}

#[test]
fn untrusted_text_cannot_make_links_or_mentions() {
    assert_eq!(
        slack::escape("<!channel> <https://evil.example|click> & co"),
        "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co"
    );
    assert_eq!(
        teams::escape("[click](https://evil.example) *x* frontend-1001"),
        "\\[click\\](https://evil.example) \\*x\\* frontend-1001"
    );
    assert_eq!(message::cut("a\nb\u{7}c"), "a b c");
    let long = message::cut(&"x".repeat(500));
    assert_eq!(
        long.chars().count(),
        message::MAX_VALUE_CHARS,
        "the ellipsis among them"
    );
    assert!(long.ends_with("x…"), "{long}");
}

#[test]
fn waits_read_in_days_hours_and_minutes() {
    let t = chrono::Utc::now();
    assert_eq!(message::waited(t, t + chrono::Duration::minutes(12)), "12m");
    assert_eq!(
        message::waited(t, t + chrono::Duration::minutes(245)),
        "4h 5m"
    );
    assert_eq!(
        message::waited(t, t + chrono::Duration::minutes(3 * 1440 + 120)),
        "3d 2h"
    );
}

#[test]
fn the_pr_wait_and_the_link_are_checked() {
    let e = Notifications::new()
        .pr_wait(Duration::from_millis(10))
        .unwrap_err()
        .to_string();
    assert!(e.contains("shorter than a second"), "{e}");
    let e = Notifications::new()
        .link("spektate.local")
        .unwrap_err()
        .to_string();
    assert!(e.contains("dashboard link"), "{e}");
    let n = Notifications::new()
        .webhook(Webhook::parse("slack:https://hooks.slack.com/a", Format::Json).unwrap())
        .webhook(Webhook::parse("teams:https://x.logic.azure.com/b", Format::Json).unwrap())
        .cdevents_sink("http://cdevents.example:8080/")
        .unwrap();
    assert_eq!(
        n.describe(),
        "2 webhooks (slack, teams), CDEvents to cdevents.example:8080"
    );
    assert!(Notifications::new().is_empty());
}

#[tokio::test]
async fn a_full_queue_drops_further_events_instead_of_growing() {
    let mut r = spektate_core::Record::new("fabrikam");
    r.image_tag = Some("frontend-1001".into());
    r.p1 = Some("101".into());
    let deployments = spektate_core::correlate(
        &[Arc::new(r)],
        &spektate_core::Knowledge::default(),
        &spektate_core::RepoDefaults::default(),
        Utc::now(),
    );
    let event = Arc::new(Queued {
        event: Event {
            kind: EventKind::StepFailed {
                step: spektate_core::StepName::Image,
                run_id: "101".into(),
            },
            deployment: deployments[0].clone(),
            at: Utc::now(),
        },
        store: Arc::new(spektate_core::MemoryStore::new()),
        holder: "server-a".into(),
    });
    let (tx, mut rx) = mpsc::channel(2);
    let sink = Sink {
        name: "json webhook example.com (#1)".into(),
        tx,
        wants: |_| true,
    };
    for _ in 0..5 {
        sink.offer(&event);
    }
    let mut queued = 0;
    while rx.try_recv().is_ok() {
        queued += 1;
    }
    assert_eq!(queued, 2);
}
