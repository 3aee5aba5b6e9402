//! The official Stripe client (stripe-python, pinned in
//! tests/compat/requirements.txt) runs `tests/compat/stripe_suite.py`
//! unchanged against a real `omnisim serve`: only its API key and base URL
//! point at omnisim.

mod support;

#[test]
fn stripe_python_runs_against_the_stripe_dialect() {
    let Some(python) = support::compat::python() else {
        return;
    };
    let (_serve, urls) = support::serve();
    let stripe = &urls["dialects"]["stripe"];
    let env = [
        (
            "OMNISIM_STRIPE_API_BASE",
            stripe["api_base"].as_str().unwrap().to_owned(),
        ),
        (
            "OMNISIM_STRIPE_API_KEY",
            stripe["api_key"].as_str().unwrap().to_owned(),
        ),
        ("OMNISIM_PAY_URL", urls["pay"].as_str().unwrap().to_owned()),
        ("OMNISIM_API_KEY", support::KEY.to_owned()),
    ];
    let out = support::compat::run_script(&python, "stripe_suite.py", &env);
    assert!(out.contains("checks passed"), "{out}");
}
