#!/usr/bin/env python3
"""Lint many certificates with DigiCert's pkilint in one Python process.

Runs exactly what the CLIs `lint_pkix_cert lint` (RFC 5280 certificate linter) and
`lint_pkix_signer_signee_cert_chain lint` (RFC 5280 issuer/subject pair linter) run, but pays
pkilint's ~1 s start-up once instead of once per certificate.

Input on stdin, one job per line, tab-separated:
    cert<TAB>CERT.pem
    chain<TAB>ISSUER.pem<TAB>SUBJECT.pem
Output on stdout, one JSON object per line: first {"pkilint": VERSION}, then per job
{"job": [...the input fields...], "exit": N, "report": {...pkilint's JSON report...}}.
Findings of severity NOTICE and above are reported.

Exit status: 0 when every job ran (findings or not), 3 when pkilint is not installed,
1 when a job could not run.
"""

import contextlib
import io
import json
import sys

SEVERITY = "NOTICE"


def main() -> int:
    try:
        from importlib.metadata import version

        from pkilint.bin import lint_pkix_cert, lint_pkix_signer_signee_cert_chain
    except ImportError as e:
        print(
            f"pkilint is not installed ({e}); run `bash scripts/test.sh` "
            "(or: python3 -m pip install pkilint==0.13.3)",
            file=sys.stderr,
        )
        return 3

    print(json.dumps({"pkilint": version("pkilint")}), flush=True)
    linters = {"cert": lint_pkix_cert.main, "chain": lint_pkix_signer_signee_cert_chain.main}
    status = 0
    for line in sys.stdin:
        job = line.rstrip("\n").split("\t")
        if not job or not job[0]:
            continue
        kind, files = job[0], job[1:]
        if kind not in linters or len(files) != (1 if kind == "cert" else 2):
            print(f"bad job: {line!r}", file=sys.stderr)
            return 1
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = linters[kind](["lint", "-s", SEVERITY, "-f", "JSON", *files])
            except SystemExit as e:  # argparse errors
                code = e.code if isinstance(e.code, int) else 1
        try:
            report = json.loads(out.getvalue())
        except ValueError:
            print(f"{kind} {files}: no JSON report (exit {code}): {out.getvalue()}{err.getvalue()}", file=sys.stderr)
            status = 1
            continue
        print(json.dumps({"job": job, "exit": code, "report": report}), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
