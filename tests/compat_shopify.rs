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
        ("OMNISIM_PAY_URL", urls["pay"].as_str().unwrap().to_owned()),
    ];
    let out = support::compat::run_script(&python, "shopify_suite.py", &env);
    assert!(out.contains("checks passed"), "{out}");
}

/// Every GraphQL document the suite sends validates against Shopify's
/// published Admin schema. The schema ships in the npm package
/// `@shopify/dev-mcp` (`dist/data/admin_2026-01.json.gz`); set
/// `OMNISIM_SHOPIFY_ADMIN_SCHEMA` to that file and `OMNISIM_GRAPHQL_PYTHON`
/// to a Python with `graphql-core` to run it (skipped otherwise).
#[test]
fn the_suite_documents_validate_against_shopify_admin_schema() {
    let (Some(schema), Some(python)) = (
        std::env::var_os("OMNISIM_SHOPIFY_ADMIN_SCHEMA"),
        std::env::var_os("OMNISIM_GRAPHQL_PYTHON"),
    ) else {
        eprintln!(
            "note: OMNISIM_SHOPIFY_ADMIN_SCHEMA / OMNISIM_GRAPHQL_PYTHON unset; skipping the schema check"
        );
        return;
    };
    let python = std::path::PathBuf::from(python);
    let dir = std::env::temp_dir().join(format!("omnisim-shopify-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let docs = dir.join("documents.json");
    support::compat::run_script(
        &python,
        "shopify_suite.py",
        &[("OMNISIM_DUMP_DOCUMENTS", docs.display().to_string())],
    );
    let out = std::process::Command::new(&python)
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/compat/shopify_schema_check.py"),
        )
        .arg(&schema)
        .arg(&docs)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
