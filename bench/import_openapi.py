"""Import a large real OpenAPI specification and print methods, seconds and peak memory.

    python bench/import_openapi.py [FILE] [--skip-prance] [--runs N]

FILE defaults to GitHub's REST description (845 methods, 5.7 MB) from var/specs/ (fetched by
bench/fetch_specs.py). Each measurement runs in a fresh subprocess so that its peak memory
(ru_maxrss) is its own. Beside it, the time prance's default ResolvingParser (openapi-spec-validator
backend) takes on the same file, in the same run; pass --skip-prance to leave that out (~70 s).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IMPORT = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from connectors.openapi import parse_schema
from connectors.openapi.validation import _compiled, _registry
text = open(sys.argv[1], "rb").read()
start = time.perf_counter()
_compiled("2.0"); _compiled("3.0"); _registry()
warm = time.perf_counter() - start
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
result = parse_schema(text)
seconds = time.perf_counter() - start
stored = sum(len(json.dumps(o.input_schema)) for o in result.operations)
print(json.dumps({
    "methods": len(result.operations),
    "seconds": seconds,
    "first_use_compile_seconds": warm,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rss_before_mb": base / 1024,
    "warnings": len(result.warnings),
    "input_schemas_mb": stored / 1e6,
    "version": result.openapi_version,
}))
"""

STEPS = r"""
import json, sys, time, copy
sys.path.insert(0, sys.argv[2])
from connectors.openapi import loader, refs, validation, operations, parser
text = open(sys.argv[1], "rb").read()
timings = {}
t = time.perf_counter(); loaded = loader.load_text(text, max_bytes=10**8, max_depth=200, max_aliases=1000)
timings["load"] = time.perf_counter() - t
document = loaded.document
warnings = []
t = time.perf_counter(); refs.scan_document(document, warnings); timings["scan refs"] = time.perf_counter() - t
version, dialect = parser._version(document, warnings)
validation._compiled("3.0"); validation._compiled("2.0")
t = time.perf_counter(); validation.validate_document(document, dialect); timings["validate"] = time.perf_counter() - t
t = time.perf_counter()
operations.collect_operations(document, version=dialect, warnings=warnings, max_operations=10**6)
timings["operations + input schemas (prance resolve)"] = time.perf_counter() - t
print(json.dumps(timings))
"""

PRANCE = r"""
import json, resource, sys, time
from prance import ResolvingParser
start = time.perf_counter()
parser = ResolvingParser(sys.argv[1], backend="openapi-spec-validator", strict=False)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, path: Path) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", code, str(path), str(ROOT)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("file", nargs="?", type=Path)
    arguments.add_argument("--skip-prance", action="store_true")
    arguments.add_argument("--runs", type=int, default=3)
    options = arguments.parse_args()
    path = options.file
    if path is None:
        sys.path.insert(0, str(ROOT / "bench"))
        from fetch_specs import fetch

        path = fetch() / "github.json"
    print(f"file: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    results = [run(IMPORT, path) for _ in range(options.runs)]
    best = min(results, key=lambda r: r["seconds"])
    runs = ", ".join(f"{r['seconds']:.2f}" for r in results)
    print(
        f"import: {best['methods']} methods in {best['seconds']:.2f} s "
        f"(runs: {runs}), "
        f"peak memory {max(r['peak_rss_mb'] for r in results):.0f} MB RSS "
        f"(interpreter and libraries alone: {best['rss_before_mb']:.0f} MB), "
        f"{best['warnings']} warnings, input schemas {best['input_schemas_mb']:.1f} MB as JSON"
    )
    print(f"  once per process, compiling the official schemas' validators: {best['first_use_compile_seconds']:.2f} s")
    steps = run(STEPS, path)
    print("  steps: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps.items()))
    if options.skip_prance:
        print("prance ResolvingParser: skipped (--skip-prance)")
    else:
        try:
            prance = run(PRANCE, path)
        except subprocess.CalledProcessError as error:
            print(f"prance ResolvingParser: failed ({error.stderr.strip().splitlines()[-1]})")
        else:
            print(
                f"prance ResolvingParser (openapi-spec-validator backend): {prance['seconds']:.1f} s, "
                f"peak memory {prance['peak_rss_mb']:.0f} MB RSS"
            )


if __name__ == "__main__":
    main()
