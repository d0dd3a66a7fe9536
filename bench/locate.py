"""Benchmark: `ircli locate` over an organisation of 500 accounts × 14 regions.

The organisation is emulated by a small HTTP server in its own process (``--serve``) that
answers the four calls locate makes (STS AssumeRole / GetCallerIdentity, EC2
DescribeInstances / DescribeNetworkInterfaces) after an injected latency (default 100 ms,
like a real round trip), and counts them. moto is not used here: at 7,000 account-region
pairs its per-call CPU would be measured instead of ircli's fan-out. The real CLI runs in a
subprocess against it, as a responder would run it.

Prints, for a search by instance id (the instance sits in the middle of the organisation)
and by private IP (every pair must be asked): API calls, wall time, and the time the same
calls would take one after another. Target: each under 30 s.
Usage: python bench/locate.py [--accounts 500] [--regions 14] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CENTRAL = "999999999999"
REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2",
           "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1",
           "ap-southeast-1", "ap-southeast-2", "sa-east-1", "ca-central-1", "ap-northeast-2"]
INSTANCE = "i-0b1e55ed0fbad0042"
PRIVATE_IP = "10.42.7.9"
_SCOPE = re.compile(r"Credential=([^/]+)/\d+/([^/]+)/")


def account_id(n: int) -> str:
    return f"{100000000000 + n:012d}"


class Organisation(BaseHTTPRequestHandler):
    """Answers like EC2 and STS would, after the injected latency; knows one instance."""

    latency = 0.1
    home: tuple[str, str] = ("", "")  # (account, region) of the instance
    calls = 0
    lock = threading.Lock()

    def log_message(self, *_: Any) -> None:
        pass

    def do_GET(self) -> None:  # the call counter, for the benchmark itself
        self._reply(200, json.dumps({"calls": Organisation.calls}), "application/json")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
        match = _SCOPE.search(self.headers.get("Authorization", ""))
        key, region = match.groups() if match else ("", "us-east-1")
        account = key[4:16] if key.startswith("ASIA") else CENTRAL
        with Organisation.lock:
            Organisation.calls += 1
        time.sleep(self.latency)
        action = form.get("Action", "")
        here = (account, region) == self.home
        if action == "AssumeRole":
            target = form["RoleArn"].split(":")[4]
            self._xml("AssumeRole", "https://sts.amazonaws.com/doc/2011-06-15/",
                      f"<Credentials><AccessKeyId>ASIA{target}AAAA</AccessKeyId>"
                      "<SecretAccessKey>bench</SecretAccessKey><SessionToken>bench"
                      "</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>"
                      "</Credentials><AssumedRoleUser><AssumedRoleId>AROA:bench"
                      f"</AssumedRoleId><Arn>arn:aws:sts::{target}:assumed-role/r/bench</Arn>"
                      "</AssumedRoleUser>")
        elif action == "GetCallerIdentity":
            self._xml("GetCallerIdentity", "https://sts.amazonaws.com/doc/2011-06-15/",
                      f"<Arn>arn:aws:iam::{account}:user/bench</Arn><UserId>AIDA</UserId>"
                      f"<Account>{account}</Account>")
        elif action == "DescribeInstances":
            if not here or form.get("InstanceId.1") != INSTANCE:
                self._error("InvalidInstanceID.NotFound",
                            f"The instance ID '{form.get('InstanceId.1')}' does not exist")
                return
            self._ec2("DescribeInstances",
                      "<reservationSet><item><reservationId>r-1</reservationId>"
                      f"<ownerId>{account}</ownerId><instancesSet><item><instanceId>"
                      f"{INSTANCE}</instanceId><instanceState><code>16</code><name>running"
                      "</name></instanceState><privateIpAddress>10.0.0.5</privateIpAddress>"
                      "<vpcId>vpc-1</vpcId></item></instancesSet></item></reservationSet>")
        elif action == "DescribeNetworkInterfaces":
            found = here and form.get("Filter.1.Value.1") == PRIVATE_IP
            item = (f"<item><networkInterfaceId>eni-0b1e55ed0fbad0042</networkInterfaceId>"
                    f"<vpcId>vpc-1</vpcId><privateIpAddress>{PRIVATE_IP}</privateIpAddress>"
                    f"<attachment><instanceId>{INSTANCE}</instanceId></attachment></item>"
                    if found else "")
            self._ec2("DescribeNetworkInterfaces",
                      f"<networkInterfaceSet>{item}</networkInterfaceSet>")
        else:
            self._error("InvalidAction", f"bench organisation does not answer {action}")

    def _xml(self, action: str, ns: str, result: str) -> None:
        self._reply(200, f'<{action}Response xmlns="{ns}"><{action}Result>{result}'
                         f"</{action}Result><ResponseMetadata><RequestId>1</RequestId>"
                         f"</ResponseMetadata></{action}Response>")

    def _ec2(self, action: str, body: str) -> None:
        self._reply(200, f'<{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
                         f"<requestId>1</requestId>{body}</{action}Response>")

    def _error(self, code: str, message: str) -> None:
        self._reply(400, f"<Response><Errors><Error><Code>{code}</Code><Message>{message}"
                         "</Message></Error></Errors><RequestID>1</RequestID></Response>")

    def _reply(self, status: int, body: str, kind: str = "text/xml") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(port_file: str, latency: float, home: tuple[str, str]) -> None:
    Organisation.latency, Organisation.home = latency, home
    server = ThreadingHTTPServer(("127.0.0.1", 0), Organisation)
    server.daemon_threads = True
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


def calls(endpoint: str) -> int:
    import urllib.request

    with urllib.request.urlopen(endpoint, timeout=10) as resp:
        return int(json.loads(resp.read())["calls"])


def run(endpoint: str, env: dict[str, str], target: str, regions: list[str],
        concurrency: int) -> dict[str, Any]:
    before = calls(endpoint)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ircli", "locate", target, "--org",
                           "--regions", ",".join(regions), "--role-name", "ircli-responder",
                           "--max-concurrency", str(concurrency), "-o", "json"],
                          capture_output=True, text=True, env=env, timeout=900)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"locate {target} exited {proc.returncode}: {proc.stderr[-2000:]}")
    data = json.loads(proc.stdout)
    return {"seconds": seconds, "calls": calls(endpoint) - before, "data": data}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--regions", type=int, default=14)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--max-concurrency", type=int, default=64)
    parser.add_argument("--serve", nargs=4, metavar=("PORT_FILE", "LATENCY", "ACCOUNT", "REGION"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], float(args.serve[1]), (args.serve[2], args.serve[3]))
        return 0
    regions = REGIONS[:args.regions]
    home = (account_id(args.accounts // 2), regions[len(regions) // 2])
    work = Path(tempfile.mkdtemp(prefix="ircli-bench-locate-"))
    port_file = work / "port"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file),
                               str(args.latency_ms / 1000), *home])
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        endpoint = f"http://127.0.0.1:{port_file.read_text()}"
        home_dir = work / "home"
        home_dir.mkdir()
        (home_dir / "accounts.json").write_text(json.dumps({"source": "bench", "accounts": [
            {"id": account_id(n), "name": f"account-{n}"} for n in range(args.accounts)]}))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IRCLI_"))}
        env.update(AWS_ACCESS_KEY_ID="AKIABENCHCENTRAL0000", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint,
                   AWS_EC2_METADATA_DISABLED="true", IRCLI_HOME=str(home_dir),
                   PYTHONPATH=str(ROOT), AWS_CONFIG_FILE=str(work / "none"),
                   AWS_SHARED_CREDENTIALS_FILE=str(work / "none"))
        pairs = args.accounts * len(regions)
        print(f"organisation: {args.accounts} accounts × {len(regions)} regions = {pairs} "
              f"pairs, {args.latency_ms:.0f} ms per call, --max-concurrency "
              f"{args.max_concurrency}; the instance is in {home[0]} {home[1]}")
        print(f"{'search':<14} {'pairs':>7} {'calls':>7} {'wall s':>8} {'sequential s':>13} "
              f"{'speed-up':>9}  found")
        worst = 0.0
        for label, target in (("instance id", INSTANCE), ("private IP", PRIVATE_IP)):
            result = run(endpoint, env, target, regions, args.max_concurrency)
            found = [f"{h['account']}/{h['region']}" for h in result["data"]["found"]]
            sequential = result["calls"] * args.latency_ms / 1000
            worst = max(worst, result["seconds"])
            print(f"{label:<14} {result['data']['pairs']['searched']:>7} {result['calls']:>7} "
                  f"{result['seconds']:>8.1f} {sequential:>13.1f} "
                  f"{sequential / result['seconds']:>8.1f}×  {', '.join(found)}")
        print(f"target: under 30 s each — {'met' if worst < 30 else 'NOT met'} "
              f"(slowest {worst:.1f} s)")
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
