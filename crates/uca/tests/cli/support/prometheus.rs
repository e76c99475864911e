//! The Prometheus project's own parser (`prometheus_client`) as the judge of /metrics pages.

use serde_json::Value;

use super::*;

const PARSE_METRICS: &str = r#"
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {"type": f.type, "samples": [
        [s.name, s.labels, s.value if math.isfinite(s.value) else str(s.value)] for s in f.samples]}
print(json.dumps(out))
"#;

pub fn parse_metrics(text: &str) -> Value {
    let out = run_timeout("python3", &["-c", PARSE_METRICS], text.as_bytes());
    assert!(
        out.status.success(),
        "prometheus_client rejected /metrics (is prometheus_client installed?):\n{}\n--- metrics:\n{text}",
        out.all()
    );
    serde_json::from_str(&out.stdout).unwrap()
}

pub fn samples<'a>(m: &'a Value, family: &str) -> &'a Vec<Value> {
    m[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family} in {m}"))
}

/// The value of the sample `name` with labels `labels` (all of them).
pub fn sample(m: &Value, family: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(m, family)
        .iter()
        .find(|s| {
            s[0] == name
                && s[1].as_object().unwrap().len() == labels.len()
                && labels.iter().all(|(k, v)| s[1][*k] == *v)
        })
        .and_then(|s| s[2].as_f64())
}
