//! What the benchmarks share: one JSON line per figure (median, min and max over the samples),
//! and the counters of a running node (its wakeups).

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Prints one figure as a JSON line (`{"bench": …}`), which the bench scripts keep.
pub fn report(what: &str, unit: &str, samples: Vec<f64>) {
    let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let max = samples.iter().copied().fold(0.0, f64::max);
    println!(
        "{}",
        serde_json::json!({
            "bench": what, "unit": unit, "n": samples.len(),
            "median": median(samples.clone()), "min": min, "max": max,
        })
    );
}

/// Wakeups of a running node: voluntary and involuntary context switches of all its threads.
/// (`ip netns exec` execs the node, so the child pid is the node's.)
pub fn wakeups(pid: u32) -> u64 {
    let switches = |status: String| -> u64 {
        status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
            .sum()
    };
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|t| switches(std::fs::read_to_string(t.path().join("status")).unwrap_or_default()))
        .sum()
}
