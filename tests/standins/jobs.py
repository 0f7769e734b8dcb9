"""A Job runner for the Kubernetes stand-in: the Job controller and the kubelet, small.

Standard library only. Attached to a KubeStandIn, it runs every Job created after it (by
POST, `kubectl create job --from=cronjob/...`, `kubectl apply`, or seed()) as the real
cluster would, with the pod's one container as a local subprocess:

- the Job: a Pod per attempt (named `<job>-xxxxx`, the template's labels, which carry the
  job labels the server added, and a controller ownerReference to the Job); a failed
  attempt is retried after the controller's back-off (`backoff_s`, doubling, capped at six
  minutes as in the real controller) until `backoffLimit` retries are used, so up to
  backoffLimit+1 Pods; then the Job's status as the 1.32 controller writes it: `startTime`,
  `active`, `ready`, `terminating`, `succeeded`/`failed`, `completionTime`, and the
  conditions SuccessCriteriaMet then Complete, or FailureTarget then Failed (reason
  BackoffLimitExceeded, or DeadlineExceeded once `activeDeadlineSeconds` has passed, when
  the running process gets SIGTERM, SIGKILL after the pod's termination grace period,
  and its Pod is deleted). A Job created suspended starts when unsuspended; a deleted
  Job's processes are killed and its Pods deleted (the garbage collector's part);
- the Pod: phase Pending, Running, then Succeeded or Failed, with conditions and
  containerStatuses (waiting, running, terminated with exitCode and reason); stdout and
  stderr, interleaved, are the container log `kubectl logs` reads;
- the container: the image (without tag or digest) is looked up in the table the test
  gives, mapping it to the image's ENTRYPOINT (and optionally CMD and ENV, see Image);
  `command` replaces the entrypoint and drops CMD, `args` replaces CMD, and `$(VAR)`
  references are expanded as Kubernetes does; the environment is the image's, then the
  runner's extra environment (the "cluster's network": KUBECONFIG, GITHUB_API_URL,
  PATH, PYTHONPATH...), then envFrom and env (`value`, `valueFrom.fieldRef` for
  metadata.name, metadata.namespace, metadata.uid, metadata.labels['k'],
  metadata.annotations['k'], spec.nodeName, spec.serviceAccountName, status.podIP,
  status.hostIP; `valueFrom.secretKeyRef`; envFrom `secretRef`), and HOSTNAME;
- volumes: `secret` volumes (with `items` key to path, per-item `mode`, `defaultMode`,
  `optional`) and `emptyDir`, materialised in a temporary directory per pod. One
  liberty: a process cannot see the container's mount paths, so every argument and env
  value that starts with a mountPath (or has it right after an `=`, as in
  `--token-file=/var/run/secrets/github/token`) is rewritten to the local directory;
- like the kubelet, a missing Secret leaves the Pod Pending (waiting reason
  CreateContainerConfigError for env, ContainerCreating plus a FailedMount Event for a
  volume) and the container starts when the Secret appears; an image not in the table
  waits with ErrImagePull; a command that cannot start terminates with StartError.

Not run: a CronJob's schedule (only Jobs that are created run). Refused when the Job is
created (400, naming what): more than one container, init or ephemeral containers,
restartPolicy OnFailure, completions or parallelism other than 1, Indexed completion,
podFailurePolicy, successPolicy, per-index back-off, volumes other than secret and
emptyDir, configMap and resource references, workingDir, stdin and tty, subPathExpr,
suspending a running Job. Ignored: resources, securityContext (the process runs as the
test's user), probes (a running container is ready), image pull policy, the service
account's token.

Usage: `JobRunner(kube, {"registry.example.com/foreman-pr-sweeper": [sys.executable, "-m",
"sweeper"]}, env={...})`; kube.stop() stops it, killing its processes.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.standins.kube import JOBS, SECRETS, ApiError, Kind, KubeStandIn, Obj

_MAX_BACKOFF_S = 360.0
_SUPPORTED_FIELD_REFS = re.compile(
    r"^(metadata\.(name|namespace|uid)|metadata\.(labels|annotations)\['[^']+'\]|"
    r"spec\.(nodeName|serviceAccountName)|status\.(podIP|hostIP))$"
)


@dataclass(frozen=True)
class Image:
    """What the runner knows of an image: its ENTRYPOINT, CMD and ENV, as local values."""

    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


class _Waiting(Exception):
    """The container cannot start yet: the waiting reason and message the kubelet shows."""

    def __init__(self, reason: str, message: str, event: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.event = reason, message, event


@dataclass
class _PodRun:
    namespace: str
    name: str
    uid: str
    job: tuple[str, str]
    container: str
    image: str
    directory: Path
    created: str
    process: subprocess.Popen[bytes] | None = None
    thread: threading.Thread | None = None
    started_at: str | None = None
    waiting: str | None = None  # the waiting reason while it cannot start
    deleting: bool = False
    done: bool = False


@dataclass
class _JobRun:
    namespace: str
    name: str
    uid: str
    template: Obj
    backoff_limit: int
    start_time: str
    active: int = 0
    ready: int = 0
    succeeded: int = 0
    failed: int = 0
    conditions: list[Obj] = field(default_factory=list)
    completion_time: str | None = None
    finished: bool = False
    pods: list[str] = field(default_factory=list)
    timers: list[threading.Timer] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_name(image: str) -> str:
    """The image reference without its tag or digest (a registry port is kept)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: defined names are replaced, `$$` is `$`, anything
    else stays as written."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", one, text)


class JobRunner:
    """Runs the stand-in's Jobs as local processes (see the module docstring).

    images maps an image name without tag to its entrypoint argv (or an Image); env is
    the extra environment every container gets; backoff_s is the first retry delay (the
    real controller's is 10 s); workdir, if given, holds the pods' temporary
    directories."""

    def __init__(
        self,
        kube: KubeStandIn,
        images: Mapping[str, Sequence[str] | Image],
        env: Mapping[str, str] | None = None,
        *,
        backoff_s: float = 10.0,
        workdir: str | Path | None = None,
        node_name: str = "standin-node",
        termination_grace_s: float | None = None,
    ) -> None:
        self.kube = kube
        self.images = {
            name: image if isinstance(image, Image) else Image(tuple(image))
            for name, image in images.items()
        }
        self.env = dict(env or {})
        self.backoff_s = backoff_s
        self.node_name = node_name
        self.termination_grace_s = termination_grace_s
        self._root = Path(tempfile.mkdtemp(prefix="standin-jobs-", dir=workdir))
        self._jobs: dict[tuple[str, str], _JobRun] = {}
        self._pods: dict[tuple[str, str], _PodRun] = {}
        self._stopped = False
        kube.attach(self)

    def processes(self) -> dict[tuple[str, str], subprocess.Popen[bytes]]:
        """The processes started so far, by (namespace, pod name)."""
        with self.kube.lock:
            return {k: p.process for k, p in self._pods.items() if p.process is not None}

    # ------------------------------------------------------------ the controller protocol

    def admit(self, kind: Kind, obj: Obj, old: Obj | None) -> None:
        if kind is not JOBS or self._stopped:
            return
        if old is None:
            problems = _unsupported(obj)
            if problems:
                raise ApiError(
                    400,
                    "BadRequest",
                    "not implemented by the stand-in's Job runner: " + "; ".join(problems),
                )
            return
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        run = self._jobs.get(key)
        suspend = (obj.get("spec") or {}).get("suspend")
        if run is not None and not run.finished and suspend:
            raise ApiError(
                400, "BadRequest", "suspending a running Job is not implemented by the stand-in"
            )

    def observe(self, kind: Kind, event: str, obj: Obj, old: Obj | None) -> None:
        if self._stopped:
            return
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if kind is JOBS:
            if event == "DELETED":
                self._job_deleted(key)
            elif key not in self._jobs and not (obj.get("spec") or {}).get("suspend"):
                finished = any(
                    c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                    for c in (obj.get("status") or {}).get("conditions") or []
                )
                if not finished:
                    self._start_job(obj)
        elif kind is SECRETS and event != "DELETED":
            for pod in list(self._pods.values()):
                if pod.namespace == key[0] and pod.waiting and pod.process is None:
                    self._try_start(pod)

    def stop(self) -> None:
        """Kill every process, cancel the timers, wait for the output readers, clean up."""
        with self.kube.lock:
            self._stopped = True
            pods = list(self._pods.values())
            timers = [t for run in self._jobs.values() for t in run.timers]
        for timer in timers:
            timer.cancel()
        for pod in pods:
            _kill(pod.process, signal.SIGKILL)
        for pod in pods:
            if pod.thread is not None:
                pod.thread.join(timeout=5)
            if pod.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    pod.process.wait(timeout=5)
        shutil.rmtree(self._root, ignore_errors=True)

    # ------------------------------------------------------------ the Job controller

    def _start_job(self, job: Obj) -> None:
        meta, spec = job["metadata"], job.get("spec") or {}
        run = _JobRun(
            namespace=meta.get("namespace", ""),
            name=meta["name"],
            uid=meta["uid"],
            template=job["spec"]["template"],
            backoff_limit=int(spec.get("backoffLimit", 6)),
            start_time=_now(),
        )
        self._jobs[(run.namespace, run.name)] = run
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is not None:
            self._later(run, float(deadline), self._deadline, run)
        self._new_pod(run)

    def _publish(self, run: _JobRun) -> None:
        status: Obj = {"startTime": run.start_time}
        if run.active:
            status["active"] = run.active
        status.update(ready=run.ready, terminating=0, uncountedTerminatedPods={})
        if run.succeeded:
            status["succeeded"] = run.succeeded
        if run.failed:
            status["failed"] = run.failed
        if run.completion_time:
            status["completionTime"] = run.completion_time
        if run.conditions:
            status["conditions"] = [dict(c) for c in run.conditions]
        with contextlib.suppress(KeyError):
            self.kube.set_status("jobs", run.namespace, run.name, status, group="batch")

    def _condition(self, run: _JobRun, type_: str, reason: str, message: str) -> None:
        now = _now()
        run.conditions.append(
            {
                "type": type_,
                "status": "True",
                "lastProbeTime": now,
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            }
        )
        self._publish(run)

    def _later(self, run: _JobRun, delay: float, action: Any, *args: Any) -> None:
        def fire() -> None:
            with self.kube.lock:
                if not self._stopped:
                    action(*args)

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        run.timers.append(timer)
        timer.start()

    def _retry(self, run: _JobRun) -> None:
        if not run.finished and self._jobs.get((run.namespace, run.name)) is run:
            self._new_pod(run)

    def _deadline(self, run: _JobRun) -> None:
        if run.finished or self._jobs.get((run.namespace, run.name)) is not run:
            return
        run.finished = True
        message = "Job was active longer than specified deadline"
        self._condition(run, "FailureTarget", "DeadlineExceeded", message)
        active = [
            p for name in run.pods if (p := self._pods.get((run.namespace, name))) and not p.done
        ]
        for pod in active:
            pod.deleting = True
            stored = self.kube.get("pods", pod.namespace, pod.name, group="")
            if stored is None:
                continue
            grace = (stored.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            if self.termination_grace_s is not None:
                grace = self.termination_grace_s
            stored["metadata"]["deletionTimestamp"] = _now()
            stored["metadata"]["deletionGracePeriodSeconds"] = int(grace)
            self.kube.seed_replace(stored)
            if pod.process is None:
                self._pod_gone(pod, run)
            else:
                _kill(pod.process, signal.SIGTERM)
                self._later(run, float(grace), _kill, pod.process, signal.SIGKILL)
        if not active:
            self._condition(run, "Failed", "DeadlineExceeded", message)

    def _pod_gone(self, pod: _PodRun, run: _JobRun) -> None:
        """A pod deleted at the deadline: counted as failed, then the Job is Failed."""
        pod.done = True
        self.kube.remove("pods", pod.namespace, pod.name, group="")
        run.active, run.ready = 0, 0
        run.failed += 1
        self._condition(
            run, "Failed", "DeadlineExceeded", "Job was active longer than specified deadline"
        )

    def _job_deleted(self, key: tuple[str, str]) -> None:
        run = self._jobs.pop(key, None)
        if run is None:
            return
        run.finished = True
        for timer in run.timers:
            timer.cancel()
        for name in run.pods:
            pod = self._pods.get((run.namespace, name))
            if pod is not None:
                pod.deleting = pod.done = True
                _kill(pod.process, signal.SIGKILL)
            self.kube.remove("pods", run.namespace, name, group="")

    # ------------------------------------------------------------ the kubelet

    def _new_pod(self, run: _JobRun) -> None:
        template = run.template
        template_meta = template.get("metadata") or {}
        spec = dict(template.get("spec") or {})
        spec.setdefault("serviceAccountName", "default")
        spec["nodeName"] = self.node_name
        meta: Obj = {
            "generateName": f"{run.name}-",
            "namespace": run.namespace,
            "labels": dict(template_meta.get("labels") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": run.name,
                    "uid": run.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }
        if template_meta.get("annotations"):
            meta["annotations"] = dict(template_meta["annotations"])
        created = _now()
        container = (spec.get("containers") or [{}])[0]
        pod_obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
        pod_obj["status"] = {"phase": "Pending", "qosClass": _qos(container)}
        stored = self.kube.seed(pod_obj)
        name = stored["metadata"]["name"]
        pod = _PodRun(
            namespace=run.namespace,
            name=name,
            uid=stored["metadata"]["uid"],
            job=(run.namespace, run.name),
            container=str(container.get("name", "")),
            image=str(container.get("image", "")),
            directory=self._root / f"{run.namespace}_{name}",
            created=created,
        )
        self._pods[(run.namespace, name)] = pod
        run.pods.append(name)
        run.active = 1
        self._publish(run)
        self._try_start(pod)

    def _set_pod(self, pod: _PodRun, phase: str, state: Obj, ready: bool) -> None:
        stored = self.kube.get("pods", pod.namespace, pod.name, group="")
        if stored is None:
            return
        now = _now()
        started = "running" in state or "terminated" in state
        completed = phase in ("Succeeded", "Failed")

        def condition(type_: str, ok: bool, reason: str | None = None) -> Obj:
            found: Obj = {"type": type_, "status": "True" if ok else "False"}
            found.update(lastProbeTime=None, lastTransitionTime=now)
            if reason and not ok:
                found["reason"] = reason
                if reason == "ContainersNotReady":
                    found["message"] = f"containers with unready status: [{pod.container}]"
            return found

        not_ready = "PodCompleted" if completed else "ContainersNotReady"
        status: Obj = {
            "phase": phase,
            "conditions": [
                # the sandbox exists once volumes are mounted
                condition("PodReadyToStartContainers", pod.waiting != "ContainerCreating"),
                condition("Initialized", True),
                condition("Ready", ready, not_ready),
                condition("ContainersReady", ready, not_ready),
                condition("PodScheduled", True),
            ],
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": pod.created,
            "qosClass": (stored.get("status") or {}).get("qosClass", "BestEffort"),
            "containerStatuses": [
                {
                    "name": pod.container,
                    "image": pod.image,
                    "imageID": "",
                    "ready": ready,
                    "restartCount": 0,
                    "started": "running" in state,
                    "state": state,
                    "lastState": {},
                    **({"containerID": f"standin://{pod.uid}"} if started else {}),
                }
            ],
        }
        self.kube.set_status("pods", pod.namespace, pod.name, status, group="")

    def _event(self, pod: _PodRun, reason: str, message: str) -> None:
        now = _now()
        self.kube.seed(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"generateName": f"{pod.name}.", "namespace": pod.namespace},
                "involvedObject": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "namespace": pod.namespace,
                    "name": pod.name,
                    "uid": pod.uid,
                },
                "reason": reason,
                "message": message,
                "type": "Warning",
                "source": {"component": "kubelet", "host": self.node_name},
                "reportingComponent": "kubelet",
                "reportingInstance": self.node_name,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            }
        )

    def _try_start(self, pod: _PodRun) -> None:
        stored = self.kube.get("pods", pod.namespace, pod.name, group="")
        if stored is None or pod.done or pod.deleting:
            return
        try:
            argv, env = self._prepare(stored, pod)
        except _Waiting as waiting:
            first = pod.waiting != waiting.reason
            pod.waiting = waiting.reason
            state: Obj = {"waiting": {"reason": waiting.reason}}
            if waiting.message and waiting.reason != "ContainerCreating":
                state["waiting"]["message"] = waiting.message
            self._set_pod(pod, "Pending", state, ready=False)
            if waiting.event and first:
                self._event(pod, *waiting.event)
            return
        pod.waiting = None
        root = pod.directory / "root"
        root.mkdir(parents=True, exist_ok=True)
        pod.started_at = _now()
        try:
            pod.process = subprocess.Popen(
                argv,
                env=env,
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            message = f"failed to start container {pod.container!r}: {err}"
            self.kube.close_log(self.kube.container_log(pod.namespace, pod.name, pod.container))
            self._terminated(pod, 128, "StartError", message)
            return
        self._set_pod(pod, "Running", {"running": {"startedAt": pod.started_at}}, ready=True)
        run = self._jobs.get(pod.job)
        if run is not None:
            run.ready = 1
            self._publish(run)
        pod.thread = threading.Thread(target=self._pump, args=(pod,), daemon=True)
        pod.thread.start()

    def _pump(self, pod: _PodRun) -> None:
        """Copies the process's output into the container log, then reports the exit."""
        process = pod.process
        assert process is not None and process.stdout is not None
        log = self.kube.container_log(pod.namespace, pod.name, pod.container)
        fd = process.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            self.kube.write_log(log, chunk)
        process.stdout.close()
        code = process.wait()
        with self.kube.lock:
            self.kube.close_log(log)
            if self._stopped or pod.done:
                return
            exit_code = 128 - code if code < 0 else code
            self._terminated(pod, exit_code, "Completed" if code == 0 else "Error", None)

    def _terminated(self, pod: _PodRun, code: int, reason: str, message: str | None) -> None:
        pod.done = True
        state: Obj = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": pod.started_at or _now(),
                "finishedAt": _now(),
                "containerID": f"standin://{pod.uid}",
            }
        }
        if message:
            state["terminated"]["message"] = message
        self._set_pod(pod, "Succeeded" if code == 0 else "Failed", state, ready=False)
        run = self._jobs.get(pod.job)
        if run is None:
            return
        if pod.deleting:
            self._pod_gone(pod, run)
            return
        run.active, run.ready = 0, 0
        if code == 0:
            run.succeeded += 1
            run.finished = True
            message_ = "Reached expected number of succeeded pods"
            self._condition(run, "SuccessCriteriaMet", "CompletionsReached", message_)
            run.completion_time = _now()
            self._condition(run, "Complete", "CompletionsReached", message_)
            return
        run.failed += 1
        if run.failed > run.backoff_limit:
            run.finished = True
            message_ = "Job has reached the specified backoff limit"
            self._condition(run, "FailureTarget", "BackoffLimitExceeded", message_)
            self._condition(run, "Failed", "BackoffLimitExceeded", message_)
            return
        self._publish(run)
        delay = min(self.backoff_s * 2 ** (run.failed - 1), _MAX_BACKOFF_S)
        self._later(run, delay, self._retry, run)

    # ------------------------------------------------------------ the container's world

    def _prepare(self, pod: Obj, this: _PodRun) -> tuple[list[str], dict[str, str]]:
        """argv and environment of the pod's container; raises _Waiting as the kubelet
        would wait (volumes first, then the image, then the environment)."""
        spec = pod.get("spec") or {}
        container = (spec.get("containers") or [{}])[0]
        mounts = self._mount(spec, container, this)
        image = str(container.get("image") or "")
        known = self.images.get(image_name(image))
        if known is None:
            message = f'the Job runner has no command for image "{image}"'
            raise _Waiting("ErrImagePull", message, ("Failed", f"Failed to pull image: {message}"))
        env: dict[str, str] = {**known.env, **self.env}
        for source in container.get("envFrom") or []:
            ref = source.get("secretRef") or {}
            data = self._secret(this.namespace, str(ref.get("name")), bool(ref.get("optional")))
            for key, value in (data or {}).items():
                env[f"{source.get('prefix', '')}{key}"] = value
        for var in container.get("env") or []:
            found = self._env_value(pod, var, env)
            if found is not None:
                env[str(var["name"])] = found
        env.setdefault("HOSTNAME", this.name)
        env = {k: _rewrite(v, mounts) for k, v in env.items()}
        command, args = container.get("command"), container.get("args")
        if command:
            argv = [expand(str(c), env) for c in command]
            argv += [expand(str(a), env) for a in args or []]
            argv = [_rewrite(a, mounts) for a in argv]
        elif args is not None:
            argv = list(known.entrypoint) + [_rewrite(expand(str(a), env), mounts) for a in args]
        else:
            argv = list(known.entrypoint) + list(known.cmd)
        if not argv:
            raise _Waiting("CreateContainerError", "no command specified")
        return argv, env

    def _env_value(self, pod: Obj, var: Obj, env: Mapping[str, str]) -> str | None:
        if "valueFrom" not in var:
            return expand(str(var.get("value", "")), env)
        source = var["valueFrom"]
        if "fieldRef" in source:
            return _field_ref(pod, str(source["fieldRef"].get("fieldPath")))
        ref = source.get("secretKeyRef") or {}
        namespace = pod["metadata"]["namespace"]
        name, key, optional = str(ref.get("name")), str(ref.get("key")), bool(ref.get("optional"))
        data = self._secret(namespace, name, optional)
        if data is None:
            return None
        if key not in data:
            if optional:
                return None
            message = f"couldn't find key {key} in Secret {namespace}/{name}"
            raise _Waiting("CreateContainerConfigError", message, ("Failed", f"Error: {message}"))
        return data[key]

    def _secret(self, namespace: str, name: str, optional: bool) -> dict[str, str] | None:
        """A Secret's data decoded, None if it is optional and missing."""
        found = self.kube.get("secrets", namespace, name, group="")
        if found is None:
            if optional:
                return None
            message = f'secret "{name}" not found'
            raise _Waiting("CreateContainerConfigError", message, ("Failed", f"Error: {message}"))
        return {
            k: base64.b64decode(v).decode(errors="replace")
            for k, v in (found.get("data") or {}).items()
        }

    def _mount(self, spec: Obj, container: Obj, run: _PodRun) -> list[tuple[str, str]]:
        """The volumes written to the pod's directory: [(mountPath, local path)]."""
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        mounts: list[tuple[str, str]] = []
        for mount in container.get("volumeMounts") or []:
            name = mount.get("name")
            volume = volumes.get(name) or {}
            target = run.directory / "volumes" / str(name)
            if "secret" in volume:
                self._write_secret_volume(volume, target, run)
            else:
                target.mkdir(parents=True, exist_ok=True)
            local = target / mount["subPath"] if mount.get("subPath") else target
            mounts.append((str(mount["mountPath"]).rstrip("/") or "/", str(local)))
        return sorted(mounts, key=lambda m: -len(m[0]))

    def _write_secret_volume(self, volume: Obj, target: Path, run: _PodRun) -> None:
        source = volume["secret"]
        name = str(source.get("secretName"))
        found = self.kube.get("secrets", run.namespace, name, group="")
        optional = bool(source.get("optional"))
        failed = f'MountVolume.SetUp failed for volume "{volume.get("name")}" : '
        if found is None and not optional:
            message = failed + f'secret "{name}" not found'
            raise _Waiting("ContainerCreating", message, ("FailedMount", message))
        data = {k: base64.b64decode(v) for k, v in ((found or {}).get("data") or {}).items()}
        default_mode = int(source.get("defaultMode", 0o644))
        items = source.get("items")
        files: list[tuple[str, str, int]] = []
        for item in items if items is not None else [{"key": k, "path": k} for k in data]:
            key = str(item.get("key"))
            if key not in data:
                if optional:
                    continue
                message = failed + f"references non-existent secret key: {key}"
                raise _Waiting("ContainerCreating", message, ("FailedMount", message))
            files.append((key, str(item.get("path", key)), int(item.get("mode", default_mode))))
        target.mkdir(parents=True, exist_ok=True)
        for key, path, mode in files:
            file = target / path
            file.parent.mkdir(parents=True, exist_ok=True)
            if file.exists():
                file.chmod(0o600)
            file.write_bytes(data[key])
            file.chmod(mode)


def _unsupported(job: Obj) -> list[str]:
    """What a Job asks for that the runner does not implement."""
    problems: list[str] = []
    spec = job.get("spec") or {}
    for name in ("podFailurePolicy", "successPolicy", "backoffLimitPerIndex", "maxFailedIndexes"):
        if spec.get(name) is not None:
            problems.append(f"spec.{name}")
    for name in ("completions", "parallelism"):
        if spec.get(name, 1) != 1:
            problems.append(f"spec.{name} other than 1")
    if spec.get("completionMode", "NonIndexed") != "NonIndexed":
        problems.append("Indexed completion")
    pod = (spec.get("template") or {}).get("spec") or {}
    if pod.get("restartPolicy") == "OnFailure":
        problems.append("restartPolicy OnFailure")
    for name in ("initContainers", "ephemeralContainers"):
        if pod.get(name):
            problems.append(f"spec.template.spec.{name}")
    containers = pod.get("containers") or []
    if len(containers) != 1:
        problems.append(f"{len(containers)} containers (one is run)")
    for volume in pod.get("volumes") or []:
        types = set(volume) - {"name"}
        if types - {"secret", "emptyDir"}:
            problems.append(f"{'/'.join(sorted(types))} volume {volume.get('name')!r}")
    for container in containers:
        for name in ("workingDir", "stdin", "tty"):
            if container.get(name):
                problems.append(f"container {name}")
        for var in container.get("env") or []:
            source = var.get("valueFrom") or {}
            if set(source) - {"fieldRef", "secretKeyRef"}:
                problems.append(f"env {var.get('name')}: {'/'.join(sorted(source))}")
            path = (source.get("fieldRef") or {}).get("fieldPath")
            if path is not None and not _SUPPORTED_FIELD_REFS.match(str(path)):
                problems.append(f"env {var.get('name')}: fieldRef {path}")
        for source in container.get("envFrom") or []:
            if "secretRef" not in source:
                problems.append("envFrom other than secretRef")
        for mount in container.get("volumeMounts") or []:
            if mount.get("subPathExpr"):
                problems.append("subPathExpr")
    return problems


def _field_ref(pod: Obj, path: str) -> str:
    meta, spec = pod["metadata"], pod.get("spec") or {}
    if m := re.match(r"^metadata\.(labels|annotations)\['([^']+)'\]$", path):
        return str((meta.get(m[1]) or {}).get(m[2], ""))
    values = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    return str(values.get(path) or "")


def _rewrite(value: str, mounts: list[tuple[str, str]]) -> str:
    """The runner's one liberty: container mount paths, at the start of a value or right
    after an `=`, become the local directories they are materialised in."""
    for mount_path, local in mounts:
        pattern = rf"(^|=){re.escape(mount_path)}(?=/|$)"
        value = re.sub(pattern, lambda m: m.group(1) + local, value)  # noqa: B023 - used at once
    return value


def _qos(container: Obj) -> str:
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    if not requests and not limits:
        return "BestEffort"
    if all(
        limits.get(r) and (requests.get(r) or limits[r]) == limits[r] for r in ("cpu", "memory")
    ):
        return "Guaranteed"
    return "Burstable"


def _kill(process: subprocess.Popen[bytes] | None, sig: int) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
