"""A one-node Slurm on localhost for the tests: installed, configured and started when missing.

``ensure_slurm()`` returns the environment that points Slurm's clients at the cluster, or raises
``SlurmUnavailable`` with the reason (the tests then skip with it). The configuration lives in a private
folder (``SLURM_CONF``), so nothing under /etc/slurm is written.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

STATE = Path(os.environ.get("AUWGCN_SLURM_STATE", "/tmp/auwgcn-slurm"))
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]


class SlurmUnavailable(Exception):
    pass


def _run(command: list[str], timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def _install() -> None:
    if all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SlurmUnavailable("Slurm is not installed and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", *PACKAGES]):
        result = _run(command, timeout=900, env=env)
        if result.returncode != 0:
            raise SlurmUnavailable(f"'{' '.join(command)}' failed: {result.stderr.strip()[-300:]}")


def _config(host: str) -> str:
    cpus = os.cpu_count() or 1
    return "\n".join([
        "ClusterName=auwgcn-test", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "SchedulerType=sched/builtin", "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
        "ReturnToService=2", "MpiDefault=none", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        f"StateSaveLocation={STATE}/ctld", f"SlurmdSpoolDir={STATE}/d",
        f"SlurmctldPidFile={STATE}/ctld.pid", f"SlurmdPidFile={STATE}/d.pid",
        f"SlurmctldLogFile={STATE}/ctld.log", f"SlurmdLogFile={STATE}/d.log",
        "SlurmctldPort=6817", "SlurmdPort=6818", "MinJobAge=300", "KillWait=5",
        f"NodeName={host} CPUs={cpus} State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO",
    ]) + "\n"


def _node_ready(env: dict) -> bool:
    result = _run(["sinfo", "-h", "-N", "-o", "%T"], timeout=20, env=env)
    states = result.stdout.split()
    return result.returncode == 0 and any(s.rstrip("*") in ("idle", "mixed", "allocated") for s in states)


def _munge_running() -> bool:
    return shutil.which("munge") is not None and subprocess.run(
        "munge -n | unmunge", shell=True, capture_output=True, timeout=20).returncode == 0


def ensure_slurm() -> dict:
    """The environment for sbatch/squeue to reach a running one-node cluster (started if needed)."""
    _install()
    host = socket.gethostname().split(".")[0]
    conf = STATE / "slurm.conf"
    env = {**os.environ, "SLURM_CONF": str(conf)}
    if conf.is_file() and _node_ready(env):
        return env
    if os.geteuid() != 0:
        raise SlurmUnavailable("no running Slurm, and starting munge/slurmctld/slurmd needs root")
    for folder in (STATE / "ctld", STATE / "d"):
        folder.mkdir(parents=True, exist_ok=True)
    conf.write_text(_config(host))
    if not _munge_running():
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        if not Path("/etc/munge/munge.key").is_file():
            _run(["mungekey", "--create"])
        for path in ("/etc/munge", "/var/lib/munge", "/var/log/munge", "/run/munge"):
            Path(path).mkdir(parents=True, exist_ok=True)
            shutil.chown(path, "munge", "munge")
        shutil.chown("/etc/munge/munge.key", "munge", "munge")
        result = _run(["su", "-s", "/bin/sh", "munge", "-c", "munged"])
        if result.returncode != 0 or not _munge_running():
            raise SlurmUnavailable(f"munged did not start: {result.stderr.strip()[-300:]}")
    for daemon in ("slurmctld", "slurmd"):
        pid_file = STATE / ("ctld.pid" if daemon == "slurmctld" else "d.pid")
        if pid_file.is_file():
            try:
                os.kill(int(pid_file.read_text().split()[0]), 0)
                continue
            except (OSError, ValueError):
                pass
        result = _run([daemon, "-f", str(conf)] + (["-c"] if daemon == "slurmctld" else []), env=env)
        if result.returncode != 0:
            raise SlurmUnavailable(f"{daemon} did not start: {result.stderr.strip()[-300:]}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _node_ready(env):
            return env
        time.sleep(1)
    log = (STATE / "ctld.log").read_text()[-300:] if (STATE / "ctld.log").is_file() else ""
    raise SlurmUnavailable(f"the Slurm node did not come up within 60 s ({log.strip()})")

