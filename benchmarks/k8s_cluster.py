"""`kubeward k8s` on a generated cluster of N objects: wall time and peak RSS, side by side
with the raw cost of listing the same objects with the official client.

    .venv/bin/python benchmarks/k8s_cluster.py [--objects 6000] [--page-size 500]

The fake API server (tests/fake_apiserver.py) serves tests/cluster_objects.py's cluster from
a child process; the two measured programs run as other children, and each one's own peak
RSS comes from os.wait4. This process stays small on purpose: Linux carries a process' peak
RSS across exec, so a child started from a process holding the cluster would report that
process' memory as its own. Targets of issue 8: the audit of >= 5,000 objects in <= 10 s
and <= 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

KUBEWARD = str(Path(sys.executable).with_name("kubeward"))
TARGET_SECONDS = 10.0
TARGET_MB = 300.0

# The reference: every resource type the audit lists, listed page by page with the official
# client's API functions, each page's JSON decoded (json.loads) and dropped: the floor of
# reading the objects at all. (Its typed models are not used: they refuse objects the
# generator leaves without fields a real API server always fills, such as a DaemonSet's
# status.numberMisscheduled.)
REFERENCE = """
import json, sys
from kubernetes import client, config
config.load_kube_config(config_file=sys.argv[1])
core, apps, batch = client.CoreV1Api(), client.AppsV1Api(), client.BatchV1Api()
net, rbac = client.NetworkingV1Api(), client.RbacAuthorizationV1Api()
calls = [
    core.list_namespace, core.list_node, rbac.list_cluster_role,
    rbac.list_cluster_role_binding, rbac.list_role_for_all_namespaces,
    rbac.list_role_binding_for_all_namespaces, core.list_service_account_for_all_namespaces,
    core.list_service_for_all_namespaces, core.list_config_map_for_all_namespaces,
    core.list_secret_for_all_namespaces, net.list_network_policy_for_all_namespaces,
    net.list_ingress_for_all_namespaces, apps.list_deployment_for_all_namespaces,
    apps.list_daemon_set_for_all_namespaces, apps.list_stateful_set_for_all_namespaces,
    apps.list_replica_set_for_all_namespaces,
    core.list_replication_controller_for_all_namespaces, batch.list_cron_job_for_all_namespaces,
    batch.list_job_for_all_namespaces, core.list_pod_for_all_namespaces,
]
limit, total = int(sys.argv[2]), 0
for call in calls:
    token = None
    while True:
        kwargs = {"limit": limit, "_preload_content": False}
        if token:
            kwargs["_continue"] = token
        page = json.loads(call(**kwargs).data)
        total += len(page["items"])
        token = page["metadata"].get("continue")
        if not token:
            break
print(total)
"""


# The server process: generate, serve, print the kubeconfig path, wait for a line on stdin,
# then print how many requests it answered.
SERVER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from cluster_objects import generate_cluster
from fake_apiserver import FakeApiServer
objects = generate_cluster(int(sys.argv[2]))
with FakeApiServer(objects) as server:
    print(server.write_kubeconfig(Path(sys.argv[3]) / "kubeconfig"), len(objects), flush=True)
    sys.stdin.readline()
    print(len(server.requests), flush=True)
"""


def measure(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one child process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read().decode() if process.stderr else ""
        out.seek(0)
        text = out.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} exited {process.returncode}: {stderr.strip()[:2000]}")
    return wall, usage.ru_maxrss / 1024, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=6000)
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(ROOT / "tests"), str(args.objects), tmp],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert server.stdin is not None and server.stdout is not None
        try:
            kubeconfig, generated = server.stdout.readline().split()
            report = Path(tmp) / "report.json"
            ref_wall, ref_mb, listed = measure(
                [sys.executable, "-c", REFERENCE, kubeconfig, str(args.page_size)]
            )
            kw_wall, kw_mb, _ = measure(
                [KUBEWARD, "k8s", "--kubeconfig", kubeconfig, "--page-size",
                 str(args.page_size), "-f", "json", "-o", str(report), "-q"]
            )  # fmt: skip
            document = json.loads(report.read_text())
            server.stdin.write("done\n")
            server.stdin.flush()
            requests = int(server.stdout.readline())
        finally:
            server.stdin.close()
            server.wait(30)
    audited = sum(document["cluster"]["objects"].values())
    print(f"generated cluster: {generated} objects; official client listed {listed.strip()}")
    print(f"kubeward k8s: {audited} objects audited, {len(document['findings'])} findings, "
          f"{requests} API requests in all")  # fmt: skip
    print(f"{'':34}{'wall s':>8}{'peak RSS MB':>14}")
    print(f"{'kubeward k8s (audit, all checks)':34}{kw_wall:8.2f}{kw_mb:14.1f}")
    print(f"{'official client, list + json.loads':34}{ref_wall:8.2f}{ref_mb:14.1f}")
    print(f"{'target':34}{TARGET_SECONDS:8.2f}{TARGET_MB:14.1f}")
    ok = kw_wall <= TARGET_SECONDS and kw_mb <= TARGET_MB
    print("within target" if ok else "OVER TARGET")


if __name__ == "__main__":
    main()
