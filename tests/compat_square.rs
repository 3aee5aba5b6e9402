//! The official Square client (squareup, pinned in
//! tests/compat/requirements.txt) runs `tests/compat/square_suite.py`
//! unchanged against a real `omnisim serve`: only its token and base URL
//! point at omnisim.

mod support;

#[test]
fn squareup_runs_against_the_square_dialect() {
    let Some(python) = support::compat::python() else {
        return;
    };
    let (_serve, urls) = support::serve();
    let square = &urls["dialects"]["square"];
    let env = [
        (
            "OMNISIM_SQUARE_BASE_URL",
            square["base_url"].as_str().unwrap().to_owned(),
        ),
        (
            "OMNISIM_SQUARE_TOKEN",
            square["access_token"].as_str().unwrap().to_owned(),
        ),
        ("OMNISIM_POS_URL", urls["pos"].as_str().unwrap().to_owned()),
        ("OMNISIM_API_KEY", support::KEY.to_owned()),
    ];
    let out = support::compat::run_script(&python, "square_suite.py", &env);
    assert!(out.contains("checks passed"), "{out}");
}
