//! The watcher's /metrics, judged by the Prometheus project's own parser (`prometheus_client`)
//! and compared with /status.json of the same refresh.

use serde_json::Value;

use crate::support::health::*;
use crate::support::prometheus::*;
use crate::support::*;

#[test]
fn watch_metrics_parse_with_prometheus_client_and_match_the_status() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("tlsweb", &["--san", "127.0.0.1", "--profile", "server"]);
    let good = FlakyServer::start(&[]);
    let slow = FlakyServer::start(&["--delay-ms", "500"]);
    let tls = FlakyServer::tls(&env.files("tlsweb"), &[]);
    let closed = free_port();
    let file = targets_file(
        &env,
        "targets.toml",
        &format!(
            "{}\n[[target]]\nname = \"good\"\nurl = \"{}\"\n\n\
             [[target]]\nname = \"slow\"\nurl = \"{}\"\n\n\
             [[target]]\nname = \"down\"\nurl = \"http://127.0.0.1:{closed}/\"\n\n\
             [[target]]\nname = \"tls\"\nurl = \"{}\"\n",
            defaults("4s"),
            good.url("http"),
            slow.url("http"),
            tls.url("https"),
        ),
    );
    let w = Watch::start(&env, &["--json"], &file, &[]);
    let want = [
        ("good", "green"),
        ("slow", "yellow"),
        ("down", "red"),
        ("tls", "green"),
    ];
    w.wait_until(20, "every target at its color", |d| {
        want.iter().all(|(n, c)| endpoint_of(d, n)["color"] == *c)
    });

    // /metrics and /status.json of the same refresh (statuses refresh every second).
    let (mut m, mut doc) = (Value::Null, Value::Null);
    for _ in 0..10 {
        let before = w.status();
        let (code, text) = w.get("/metrics");
        assert_eq!(code, 200);
        let after = w.status();
        m = parse_metrics(&text);
        doc = after.clone();
        if want
            .iter()
            .all(|(n, _)| endpoint_of(&before, n)["color"] == endpoint_of(&after, n)["color"])
        {
            break;
        }
    }
    let families = [
        ("uca_health_probes", "counter"),
        ("uca_health_probe_failures", "counter"),
        ("uca_health_probe_duration_seconds", "histogram"),
        ("uca_health_status", "gauge"),
        ("uca_health_good_share", "gauge"),
        ("uca_health_predicted_change_seconds", "gauge"),
        ("uca_health_cert_not_after_seconds", "gauge"),
        ("uca_health_schedule_lag_seconds", "histogram"),
        ("uca_health_probes_late", "counter"),
    ];
    for (f, t) in families {
        assert_eq!(m[f]["type"], t, "family {f}: {}", m[f]);
    }
    for (name, color) in want {
        let st = endpoint_of(&doc, name);
        let gauge = match st["color"].as_str().unwrap() {
            "green" => 0.0,
            "yellow" => 1.0,
            "red" => 2.0,
            "unknown" => 3.0,
            other => panic!("color {other}"),
        };
        assert_eq!(st["color"], color, "{st}");
        let l = [("target", name)];
        assert_eq!(
            sample(&m, "uca_health_status", "uca_health_status", &l),
            Some(gauge),
            "{name}: {st}"
        );
        let probes = sample(&m, "uca_health_probes", "uca_health_probes_total", &l).unwrap();
        let failures = sample(
            &m,
            "uca_health_probe_failures",
            "uca_health_probe_failures_total",
            &l,
        )
        .unwrap();
        assert!(
            probes >= 3.0 && failures <= probes,
            "{name}: {probes} {failures}"
        );
        let h = "uca_health_probe_duration_seconds";
        let count = sample(&m, h, &format!("{h}_count"), &l).unwrap();
        assert_eq!(count, probes, "{name}: histogram count vs probes_total");
        let inf = sample(
            &m,
            h,
            &format!("{h}_bucket"),
            &[("target", name), ("le", "+Inf")],
        );
        assert_eq!(inf, Some(count), "{name}");
        // Buckets are cumulative.
        let mut prev = 0.0;
        let mut buckets: Vec<(f64, f64)> = samples(&m, h)
            .iter()
            .filter(|s| s[0] == format!("{h}_bucket") && s[1]["target"] == name)
            .map(|s| {
                (
                    s[1]["le"].as_str().unwrap().parse::<f64>().unwrap(),
                    s[2].as_f64().unwrap(),
                )
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(buckets.len() >= 10, "{name}: {buckets:?}");
        for (_, v) in &buckets {
            assert!(*v >= prev, "{name}: buckets not cumulative {buckets:?}");
            prev = *v;
        }
        for (th, key) in [("ok", "share_ok"), ("warn", "share_warn")] {
            let g = sample(
                &m,
                "uca_health_good_share",
                "uca_health_good_share",
                &[("target", name), ("threshold", th)],
            );
            if let Some(want) = st["probe"][key].as_f64() {
                let g = g.unwrap_or_else(|| panic!("{name}: no good_share {th}"));
                assert!((g - want).abs() < 0.2, "{name} {th}: {g} vs {want}");
            }
        }
    }
    // The down target failed every probe; the slow one answered every probe in ~0.5 s.
    let l = [("target", "down")];
    assert_eq!(
        sample(&m, "uca_health_probes", "uca_health_probes_total", &l),
        sample(
            &m,
            "uca_health_probe_failures",
            "uca_health_probe_failures_total",
            &l
        )
    );
    let h = "uca_health_probe_duration_seconds";
    let slow_fast = sample(
        &m,
        h,
        &format!("{h}_bucket"),
        &[("target", "slow"), ("le", "0.25")],
    );
    assert_eq!(slow_fast, Some(0.0), "slow answered within 250 ms?");
    // The TLS target's certificate expiry, as Unix time.
    let not_after = sample(
        &m,
        "uca_health_cert_not_after_seconds",
        "uca_health_cert_not_after_seconds",
        &[("target", "tls")],
    )
    .expect("cert_not_after for the TLS target");
    let st = endpoint_of(&doc, "tls");
    assert!(
        st["cert"]["seconds_left"].as_i64().unwrap() > 300 * 86_400,
        "{st}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let left = st["cert"]["seconds_left"].as_f64().unwrap();
    assert!((not_after - now - left).abs() < 30.0, "{not_after} vs {st}");
    for n in ["good", "slow", "down"] {
        assert!(
            sample(
                &m,
                "uca_health_cert_not_after_seconds",
                "uca_health_cert_not_after_seconds",
                &[("target", n)]
            )
            .is_none(),
            "{n} has no certificate"
        );
    }
    // Scheduler metrics exist and add up.
    let lag = "uca_health_schedule_lag_seconds";
    let lag_count = sample(&m, lag, &format!("{lag}_count"), &[]).unwrap();
    assert_eq!(
        sample(&m, lag, &format!("{lag}_bucket"), &[("le", "+Inf")]),
        Some(lag_count)
    );
    assert!(lag_count >= 4.0);

    // With --json every color change is one JSON object per line on stdout.
    let mut last_to = std::collections::BTreeMap::new();
    for line in w.stdout().lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("--json change line is not JSON ({e}): {line:?}"));
        for k in ["at", "name", "from", "to", "reason", "forecast"] {
            assert!(v.get(k).is_some(), "no {k} in {v}");
        }
        assert!(v["at"].as_i64().is_some_and(|a| a > 1_600_000_000), "{v}");
        assert_ne!(v["from"], v["to"], "{v}");
        last_to.insert(
            v["name"].as_str().unwrap().to_string(),
            v["to"].as_str().unwrap().to_string(),
        );
    }
    for (name, color) in want {
        assert_eq!(
            last_to.get(name).map(String::as_str),
            Some(color),
            "last change of {name}:\n{}",
            w.stdout()
        );
    }
    assert!(
        sample(
            &m,
            "uca_health_probes_late",
            "uca_health_probes_late_total",
            &[]
        )
        .is_some()
    );
}
