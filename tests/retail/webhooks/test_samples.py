"""The developer guide's webhook verification samples (docs/samples/) accept what the platform's own
signing code (retail.webhooks.signing) produces and refuse the rest: Python in-process, Node.js with
``node`` (installed by ``make browsers``)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from retail.webhooks import signing

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "docs" / "samples"
NODE = shutil.which("node") or ("/usr/bin/node" if Path("/usr/bin/node").exists() else None)

SECRET = "whsec_3f9a1c2b7d4e5f60718293a4b5c6d7e8"
OLD_SECRET = "whsec_0011223344556677889900aabbccddee"
BODY = json.dumps(
    {
        "id": "5f0c8e0e-8a55-4b53-9a0c-3f3f2d6b3c11",
        "type": "member.joined",
        "created_at": "2026-05-01T02:00:00Z",
        "livemode": True,
        "data": {"member_id": 42, "name": "李娜", "note": 'quotes " and \\ and emoji 🎉'},
    },
    ensure_ascii=False,
    separators=(",", ":"),
).encode()
WORKED_EXAMPLE = "t=1767225600,v1=c9c43053c587d9a132baf3e87a7f5cd6b5e5e5acf4ecb038f8c897644f666304"


def python_sample():
    spec = importlib.util.spec_from_file_location("verify_webhook_sample", SAMPLES / "verify_webhook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cases() -> list[dict]:
    """Deliveries a receiver must accept (``ok``) or refuse; every header from the real signer."""
    now = int(time.time())

    def case(name, ok, *, signed_with=(SECRET,), secret=SECRET, body=BODY, age=0, header=None):
        header = header or signing.signature_header(BODY, list(signed_with), timestamp=now - age)
        return {"name": name, "ok": ok, "body": body, "header": header, "secret": secret, "now": now}

    return [
        case("valid", True),
        case("rotation, new secret", True, signed_with=(SECRET, OLD_SECRET)),
        case("rotation, old secret", True, signed_with=(SECRET, OLD_SECRET), secret=OLD_SECRET),
        case("wrong secret", False, signed_with=(OLD_SECRET,)),
        case("body changed", False, body=BODY.replace(b"42", b"43")),
        case("4:59 old", True, age=299),
        case("5:01 old (a replay)", False, age=301),
        case("5:01 ahead", False, age=-301),
        case("no signature", False, header=f"t={now}"),
        case("garbage", False, header="nonsense"),
        {
            "name": "the guide's worked example",
            "ok": True,
            "body": b'{"id":"1"}',
            "header": WORKED_EXAMPLE,
            "secret": "whsec_test",
            "now": 1767225600,
        },
    ]


def test_the_guides_worked_example_is_what_the_platform_signs():
    header = signing.signature_header(b'{"id":"1"}', ["whsec_test"], timestamp=1767225600)
    assert header == WORKED_EXAMPLE
    assert header in (ROOT / "docs" / "partners.md").read_text()


def test_python_sample_verifies_real_signatures():
    sample = python_sample()
    results = {}
    for case in cases():
        try:
            t = sample.verify_signature(case["body"], case["header"], case["secret"], now=case["now"])
            results[case["name"]] = t > 0
        except sample.SignatureError:
            results[case["name"]] = False
        # The platform's own reference check agrees with the sample.
        reference = signing.verify(case["body"], case["header"], case["secret"], now=case["now"])
        assert reference is case["ok"], case
    assert results == {c["name"]: c["ok"] for c in cases()}


NODE_RUNNER = """
const { verifySignature, SignatureError } = require(process.argv[2]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = {};
for (const c of cases) {
  try {
    out[c.name] = verifySignature(Buffer.from(c.body, "base64"), c.header, c.secret, { now: c.now }) > 0;
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err;
    out[c.name] = false;
  }
}
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed (make browsers installs nodejs)")
def test_node_sample_verifies_real_signatures(tmp_path):
    import base64

    runner = tmp_path / "run.js"
    runner.write_text(NODE_RUNNER)
    payload = [{**c, "body": base64.b64encode(c["body"]).decode()} for c in cases()]
    proc = subprocess.run(
        [NODE, str(runner), str(SAMPLES / "verify_webhook.js")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {c["name"]: c["ok"] for c in cases()}
