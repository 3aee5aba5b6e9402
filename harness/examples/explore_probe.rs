use omnisim_harness::explore::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine: EngineChoice = args
        .get(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(EngineChoice::Default);
    let n: u64 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(10);
    let faults: FaultProfile = args.get(3).map(|s| s.parse().unwrap()).unwrap_or_default();
    let steps: usize = args.get(4).map(|s| s.parse().unwrap()).unwrap_or(50);
    let checks: Vec<String> = std::env::var("CHECKS")
        .ok()
        .map(|c| c.split(",").map(String::from).collect())
        .unwrap_or_default();
    let cfg = ExploreConfig {
        checks,
        seed: 1,
        budget: Budget::Cases(n),
        engine,
        shape: Shape {
            max_steps: steps,
            max_skus: 4,
            faults,
        },
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let r = explore(&cfg, &|p| {
        if p.cases % 10 == 0 {
            eprintln!("{:?} {:?}", p, t.elapsed())
        }
    });
    println!(
        "cases {} steps {} time {:?} shrink {:?}",
        r.cases, r.steps, r.explore_time, r.shrink_time
    );
    if let Some(f) = r.found {
        println!("{:?}\n{}", f.violations, f.toml);
    }
}
