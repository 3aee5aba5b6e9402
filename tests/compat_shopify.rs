//! The official Shopify client (ShopifyAPI, pinned in
//! tests/compat/requirements.txt) runs `tests/compat/shopify_suite.py`
//! unchanged against a real `omnisim serve`: only its session (shop address,
//! protocol and port, API version, access token) points at omnisim.

mod support;

#[test]
fn shopify_api_runs_against_the_shopify_dialect() {
    let Some(python) = support::compat::python() else {
        return;
    };
    let (_serve, urls) = support::serve();
    let shopify = &urls["dialects"]["shopify"];
    let field = |k: &str| shopify[k].as_str().unwrap().to_owned();
    let env = [
        ("OMNISIM_SHOPIFY_SHOP_URL", field("shop_url")),
        ("OMNISIM_SHOPIFY_API_VERSION", field("api_version")),
        ("OMNISIM_SHOPIFY_ACCESS_TOKEN", field("access_token")),
        ("OMNISIM_SHOPIFY_API_SECRET", field("api_secret")),
        ("OMNISIM_API_KEY", support::KEY.to_owned()),
    ];
    let out = support::compat::run_script(&python, "shopify_suite.py", &env);
    assert!(out.contains("checks passed"), "{out}");
}
