mod common;
use common::lrmf;
use wlra::model::*;
use wlra::options::*;
#[test]
fn lrmf_auto() {
    let which = std::env::var("P").unwrap_or("dino".into());
    let seeds: u64 = std::env::var("S").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    for (name, p) in [("dino", lrmf::dinosaur as fn() -> lrmf::LrmfProblem), ("face", lrmf::face), ("giraffe", lrmf::giraffe), ("um_boy", lrmf::um_boy)] {
        if !which.contains(name) { continue; }
        let p = p();
        for seed in (0..seeds).map(|s| s as i64).chain([-1]) {
            let mut opts = vec![];
            if seed >= 0 { opts.push((WLRA_OPTION_INIT, WLRA_INIT_RANDOM as f64)); opts.push((WLRA_OPTION_SEED, seed as f64)); }
            let t = std::time::Instant::now();
            let model = common::fit(&p.m, Some(&p.w), p.rank, &opts);
            let rms = p.rms(model.info(WLRA_INFO_OBJECTIVE).unwrap());
            println!("{name} seed {seed}: rms {rms:.7} success {} {:.2} s method {} starts {} at best {} iters {}", p.is_success(rms), t.elapsed().as_secs_f64(),
              model.info(WLRA_INFO_METHOD_USED).unwrap(), model.info(WLRA_INFO_STARTS).unwrap(), model.info(WLRA_INFO_STARTS_AT_BEST).unwrap(), model.info(WLRA_INFO_ITERATIONS).unwrap());
        }
    }
}
