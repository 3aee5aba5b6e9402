"""Validates every GraphQL document shopify_suite.py sends against Shopify's
published Admin schema (the introspection JSON that the npm package
`@shopify/dev-mcp` ships per version, e.g. dist/data/admin_2026-01.json.gz).

Usage: shopify_schema_check.py <admin_<version>.json[.gz]> <documents.json>
(documents.json as `OMNISIM_DUMP_DOCUMENTS=… shopify_suite.py` writes it).
Needs graphql-core. Exits non-zero naming each invalid field or argument.
"""

import gzip
import json
import sys

from graphql import build_client_schema, parse, validate

path, documents = sys.argv[1], sys.argv[2]
opener = gzip.open if path.endswith(".gz") else open
with opener(path, "rt") as f:
    introspection = json.load(f)
schema = build_client_schema(introspection.get("data", introspection))
with open(documents) as f:
    docs = json.load(f)
bad = 0
for doc in docs:
    for error in validate(schema, parse(doc)):
        bad += 1
        print(f"INVALID {error.message} in: {doc.split('{')[0].strip() or doc[:40]}")
print(f"{len(docs)} documents, {bad} invalid")
sys.exit(1 if bad else 0)
