"""Create the Secrets the Knative manifests read (knative/config/secrets.example.yaml lists
them), with random values, each only if it does not exist yet: re-running never rotates a
password that PostgreSQL or Redis already holds.

    python tools/secrets.py [--namespace shop]      # `task secrets`; SMTP_URL=… adds shop-smtp

Values travel to kubectl on stdin, never on a command line.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FUNCTIONS = ("users", "products", "orders", "notifications", "deadletters")  # a role each


def wanted(namespace: str) -> dict[str, dict[str, str]]:
    redis_password = secrets.token_urlsafe(24)
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    found = {
        "shop-postgres": {
            "postgres-password": secrets.token_urlsafe(24),
            **{f"{name}-password": secrets.token_urlsafe(24) for name in FUNCTIONS},
        },
        "shop-redis": {
            "password": redis_password,
            "url": f"redis://:{redis_password}@redis.{namespace}.svc.cluster.local:6379/0",
        },
        "shop-jwt": {"private.pem": key.decode()},
        "shop-admin": {"username": "admin", "password": secrets.token_urlsafe(18)},
        "shop-internal": {"token": secrets.token_urlsafe(32)},
    }
    if os.environ.get("SMTP_URL"):
        found["shop-smtp"] = {"url": os.environ["SMTP_URL"]}
    return found


def exists(name: str, namespace: str) -> bool:
    result = subprocess.run(
        ["kubectl", "get", "secret", name, "-n", namespace], capture_output=True, check=False
    )
    return result.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="secrets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", default="shop")
    args = parser.parse_args(argv)
    for name, data in wanted(args.namespace).items():
        if exists(name, args.namespace):
            print(f"secrets: {name} exists, kept")
            continue
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": args.namespace},
            "type": "Opaque",
            "stringData": data,
        }
        subprocess.run(
            ["kubectl", "apply", "-f", "-"], input=json.dumps(manifest), text=True, check=True
        )
        print(f"secrets: {name} created")
    print(
        f"secrets: the admin password: kubectl -n {args.namespace} get secret shop-admin"
        " -o jsonpath='{.data.password}' | base64 -d"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
