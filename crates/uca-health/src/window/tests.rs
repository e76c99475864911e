//! The window judged on fed probes: colors, outages, forecasts.

use uca_pki::Color;

use crate::window::*;

fn rules() -> Rules {
    Rules {
        ok: "90% within 100ms".parse().unwrap(),
        warn: "70% within 500ms".parse().unwrap(),
        window_ms: 60_000,
        interval_ms: 100,
        min_samples: 10,
        horizon_ms: 3_600_000,
    }
}

fn feed(h: &mut History, from_ms: i64, to_ms: i64, good: impl Fn(i64) -> bool) {
    let mut t = from_ms;
    while t < to_ms {
        let ok = good(t);
        h.record(
            &Sample {
                at_ms: t,
                success: ok,
                latency_ms: 10.0,
            },
            (!ok).then(|| "boom".to_string()),
        );
        t += 100;
    }
}

#[test]
fn colors_follow_the_window() {
    let mut h = History::new(rules());
    assert_eq!(evaluate(&h, 0).color, Color::Unknown);
    feed(&mut h, 0, 60_000, |t| t % 1000 != 0); // 99% good
    let v = evaluate(&h, 60_000);
    assert_eq!(v.color, Color::Green, "{v:?}");
    feed(&mut h, 60_000, 120_000, |t| t % 500 != 0 && t % 700 != 0); // ~65% .. mixed
    let v = evaluate(&h, 120_000);
    assert_ne!(v.color, Color::Green, "{v:?}");
    assert!(v.reason.contains("needs"), "{}", v.reason);
}

#[test]
fn outage_is_red_now() {
    let mut h = History::new(rules());
    feed(&mut h, 0, 60_000, |_| true);
    feed(&mut h, 60_000, 60_300, |_| false);
    let v = evaluate(&h, 60_300);
    assert_eq!(v.color, Color::Red);
    assert!(v.reason.starts_with("down"), "{}", v.reason);
}

#[test]
fn slow_degradation_is_predicted_before_it_happens() {
    let mut h = History::new(rules());
    // Failure share grows from 0 to 8% over two minutes; the 90% line is not crossed yet.
    let fail_share = |t: i64| (t as f64 / 120_000.0) * 0.08;
    let mut acc = 0.0;
    let mut t = 0;
    while t < 120_000 {
        acc += fail_share(t);
        let fail = acc >= 1.0;
        if fail {
            acc -= 1.0;
        }
        h.record(
            &Sample {
                at_ms: t,
                success: !fail,
                latency_ms: 10.0,
            },
            None,
        );
        t += 100;
    }
    let v = evaluate(&h, 120_000);
    assert_eq!(v.color, Color::Green, "{v:?}");
    let p = v.prediction.expect("a prediction");
    assert_eq!(p.to, Color::Yellow);
    assert!(p.in_seconds > 0 && p.in_seconds < 600, "{p:?}");
}

#[test]
fn steady_state_predicts_nothing() {
    let mut h = History::new(rules());
    feed(&mut h, 0, 120_000, |t| t % 2000 != 0);
    let v = evaluate(&h, 120_000);
    assert_eq!(v.color, Color::Green);
    assert!(v.prediction.is_none(), "{:?}", v.prediction);
}

/// The store keeps this text beside the counts: it must not change, or every existing store
/// would discard its history on the next start.
#[test]
fn the_stored_rules_fingerprint_keeps_its_text() {
    let r = Rules {
        ok: crate::targets::defaults::OK,
        warn: crate::targets::defaults::WARN,
        window_ms: 600_000,
        interval_ms: 10_000,
        min_samples: 10,
        horizon_ms: 86_400_000,
    };
    assert_eq!(
        r.fingerprint().to_string(),
        "99% within 300ms|95% within 1s|600000|10000"
    );
}
