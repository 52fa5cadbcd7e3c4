"""The Knative webhooks' rules that no schema carries, checked offline (knative-contract §2, §3,
§5): autoscaling annotations, visibility, ports, env, timeouts, traffic, Trigger filters,
delivery specs and PingSource schedules. Each check returns what is wrong, as sentences."""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from devtools.broker.cron import CronError, Schedule
from devtools.broker.manifests import ManifestError, duration
from tests.support.knative.manifests import Manifest

AUTOSCALING = "autoscaling.knative.dev/"
LEGACY_KEYS = {
    "minScale": "min-scale",
    "maxScale": "max-scale",
    "initialScale": "initial-scale",
    "targetUtilizationPercentage": "target-utilization-percentage",
    "panicWindowPercentage": "panic-window-percentage",
    "panicThresholdPercentage": "panic-threshold-percentage",
}
KPA, HPA = "kpa.autoscaling.knative.dev", "hpa.autoscaling.knative.dev"
RESERVED_PORTS = {8008, 8012, 8013, 8022, 8112, 9090, 9091}
RESERVED_ENV = {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"}
MAX_TIMEOUT_SECONDS = 600
VISIBILITY = "networking.knative.dev/visibility"
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
FILTER_KEY = re.compile(r"^[a-z][a-z0-9]*$")
GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
DELIVERY_KEYS = {
    "retry",
    "backoffPolicy",
    "backoffDelay",
    "timeout",
    "deadLetterSink",
    "format",
    "retryAfterMax",
}
TRIGGER_SPEC_KEYS = {"broker", "brokerRef", "filter", "filters", "subscriber", "delivery"}
FILTER_DIALECTS = {"exact", "prefix", "suffix", "all", "any", "not", "cesql"}


def lint(manifest: Manifest) -> list[str]:
    check = CHECKS.get((manifest.api_version, manifest.kind))
    return [f"{manifest}: {problem}" for problem in check(manifest.body)] if check else []


# --- serving ---------------------------------------------------------------------------------


def service(body: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    name = body["metadata"]["name"]
    if not DNS_1035.match(name):
        problems.append(f"service name {name!r} is not a DNS-1035 label (a-z, 0-9, -; <= 63)")
    metadata = body.get("metadata", {})
    if any(key.startswith(AUTOSCALING) for key in metadata.get("annotations", {})):
        problems.append("autoscaling annotations belong on spec.template.metadata, not the Service")
    visibility = metadata.get("labels", {}).get(VISIBILITY)
    if visibility is not None and visibility != "cluster-local":
        problems.append(f"{VISIBILITY} must be 'cluster-local' (got {visibility!r})")
    template = body.get("spec", {}).get("template", {})
    revision = template.get("metadata", {}).get("name")
    if revision is not None and not str(revision).startswith(f"{name}-"):
        problems.append(f"revision name {revision!r} must start with '{name}-'")
    annotations = template.get("metadata", {}).get("annotations", {})
    for key, value in annotations.items():
        if not isinstance(value, str):
            problems.append(f"annotation {key} must be a string, not {type(value).__name__}")
    problems += autoscaling(annotations)
    problems += revision_spec(template.get("spec", {}))
    problems += traffic(name, body.get("spec", {}).get("traffic"))
    return problems


def autoscaling(annotations: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    keys = {
        LEGACY_KEYS.get(k.removeprefix(AUTOSCALING), k.removeprefix(AUTOSCALING)): v
        for k, v in annotations.items()
        if k.startswith(AUTOSCALING)
    }
    rules: dict[str, Callable[[str], str | None]] = {
        "class": lambda v: None if v in {KPA, HPA} else f"one of {KPA}, {HPA}",
        "metric": lambda v: _metric(v, keys.get("class", KPA)),
        "target": lambda v: _number(v, 0.01),
        "target-utilization-percentage": lambda v: _number(v, 1, 100),
        "min-scale": lambda v: _integer(v, 0),
        "max-scale": lambda v: _integer(v, 0),
        "initial-scale": lambda v: (
            _integer(v, 1) and "an integer >= 1 (0 needs the cluster's allow-zero-initial-scale)"
        ),
        "activation-scale": lambda v: _integer(v, 1),
        "window": lambda v: _go_duration(v, 6, 3600),
        "scale-down-delay": lambda v: _go_duration(v, 0, 3600),
        "scale-to-zero-pod-retention-period": lambda v: _go_duration(v, 0, None),
        "panic-window-percentage": lambda v: _number(v, 1, 100),
        "panic-threshold-percentage": lambda v: _number(v, 110, 1000),
    }
    for key, value in keys.items():
        rule = rules.get(key)
        if rule is None:
            problems.append(f"unknown annotation {AUTOSCALING}{key}")
        elif (wanted := rule(str(value))) is not None:
            problems.append(f"{AUTOSCALING}{key}: {value!r} is not {wanted}")
    low, high = keys.get("min-scale"), keys.get("max-scale")
    if _all_ints(low, high) and int(high or 0) and int(low or 0) > int(high or 0):
        problems.append(f"min-scale {low} exceeds max-scale {high}")
    return problems


def revision_spec(spec: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    timeout = spec.get("timeoutSeconds")
    if timeout is not None and not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        problems.append(f"timeoutSeconds {timeout} is outside 1..{MAX_TIMEOUT_SECONDS}")
    concurrency = spec.get("containerConcurrency")
    if concurrency is not None and not 0 <= concurrency <= 1000:
        problems.append(f"containerConcurrency {concurrency} is outside 0..1000")
    containers = spec.get("containers", [])
    ports = [port for c in containers for port in c.get("ports", [])]
    if len(ports) > 1:
        problems.append(f"only one port may be exposed, found {len(ports)}")
    for port in ports:
        if port.get("containerPort") in RESERVED_PORTS:
            problems.append(f"port {port['containerPort']} is reserved by Knative")
        if port.get("name", "") not in {"", "http1", "h2c"}:
            problems.append(f"port name {port['name']!r} is not '', 'http1' or 'h2c'")
    for container in containers:
        for env in container.get("env", []):
            if env.get("name") in RESERVED_ENV:
                problems.append(f"env {env['name']} is set by Knative and may not be set")
        probe = container.get("readinessProbe") or {}
        if not probe.get("periodSeconds") and {"failureThreshold", "timeoutSeconds"} & set(probe):
            problems.append("a readinessProbe without periodSeconds takes no thresholds/timeouts")
    return problems


def traffic(name: str, targets: list[Mapping[str, Any]] | None) -> list[str]:
    if not targets:
        return []
    problems: list[str] = []
    total = sum(int(t.get("percent", 0)) for t in targets)
    if total != 100:
        problems.append(f"traffic percents sum to {total}, not 100")
    tags = [t["tag"] for t in targets if "tag" in t]
    if len(tags) != len(set(tags)):
        problems.append(f"traffic tags repeat: {tags}")
    for target in targets:
        if "tag" in target and not DNS_1035.match(str(target["tag"])):
            problems.append(f"traffic tag {target['tag']!r} is not a DNS-1035 label")
        if bool(target.get("revisionName")) == bool(target.get("latestRevision")):
            problems.append("each traffic target names a revisionName or sets latestRevision")
        revision = target.get("revisionName")
        if revision and not str(revision).startswith(f"{name}-"):
            problems.append(f"traffic revision {revision!r} must start with '{name}-'")
    return problems


def template_name_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Knative's VerifyNameChange: a template that keeps a (non-empty) name may not change."""
    name = (new.get("metadata") or {}).get("name")
    if not name or name != (old.get("metadata") or {}).get("name") or old == new:
        return []
    return [f"the template changed but keeps its name {name!r}; a new name is required"]


def domain_mapping(body: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    host = body["metadata"]["name"]
    if not all(DNS_1035.match(label) or label.isdigit() for label in host.split(".")):
        problems.append(f"{host!r} is not a domain name")
    if host.count(".") < 1:
        problems.append(f"{host!r} needs at least two labels")
    ref = body.get("spec", {}).get("ref", {})
    if ref.get("kind") != "Service" or ref.get("apiVersion") != "serving.knative.dev/v1":
        problems.append("spec.ref must name a serving.knative.dev/v1 Service")
    return problems


# --- eventing --------------------------------------------------------------------------------


def broker_object(body: Mapping[str, Any]) -> list[str]:
    return delivery(body.get("spec", {}).get("delivery"))


def trigger(body: Mapping[str, Any]) -> list[str]:
    spec = body.get("spec", {})
    problems = [f"unknown spec field {key!r}" for key in sorted(set(spec) - TRIGGER_SPEC_KEYS)]
    attributes = (spec.get("filter") or {}).get("attributes") or {}
    problems += filter_keys(attributes)
    for expression in spec.get("filters") or []:
        problems += filters(expression)
    subscriber = spec.get("subscriber") or {}
    if not subscriber.get("ref") and not subscriber.get("uri"):
        problems.append("the subscriber needs a ref or a uri")
    return problems + delivery(spec.get("delivery"))


def filter_keys(attributes: Mapping[str, Any]) -> list[str]:
    problems = []
    for key, value in attributes.items():
        if not FILTER_KEY.match(key):
            problems.append(f"filter attribute {key!r} does not match {FILTER_KEY.pattern}")
        if not isinstance(value, str):
            problems.append(f"filter attribute {key!r} must be a string")
    return problems


def filters(expression: Mapping[str, Any]) -> list[str]:
    dialects = set(expression) & FILTER_DIALECTS
    if len(expression) != 1 or len(dialects) != 1:
        return [f"a filters entry has exactly one of {sorted(FILTER_DIALECTS)}: {expression}"]
    ((dialect, value),) = expression.items()
    if dialect in {"exact", "prefix", "suffix"}:
        return filter_keys(value)
    if dialect in {"all", "any"}:
        return [problem for inner in value for problem in filters(inner)]
    if dialect == "not":
        return filters(value)
    return [] if isinstance(value, str) and value.strip() else ["cesql must be an expression"]


def delivery(spec: Mapping[str, Any] | None) -> list[str]:
    if spec is None:
        return []
    problems = [f"unknown delivery field {key!r}" for key in sorted(set(spec) - DELIVERY_KEYS)]
    retry = spec.get("retry")
    if retry is not None and (not isinstance(retry, int) or retry < 0):
        problems.append(f"delivery.retry {retry!r} must be an integer >= 0")
    policy = spec.get("backoffPolicy")
    if policy is not None and policy not in {"linear", "exponential"}:
        problems.append(f"delivery.backoffPolicy {policy!r} is not 'linear' or 'exponential'")
    for key in ("backoffDelay", "timeout", "retryAfterMax"):
        if key in spec:
            try:
                duration(str(spec[key]))
            except ManifestError:
                problems.append(f"delivery.{key} {spec[key]!r} is not an ISO-8601 duration")
    if spec.get("format") not in {None, "json", "binary"}:
        problems.append(f"delivery.format {spec['format']!r} is not 'json' or 'binary'")
    sink = spec.get("deadLetterSink")
    if sink is not None and not (sink.get("ref") or sink.get("uri")):
        problems.append("delivery.deadLetterSink needs a ref or a uri")
    return problems


def ping_source(body: Mapping[str, Any]) -> list[str]:
    spec = body.get("spec", {})
    problems: list[str] = []
    schedule = str(spec.get("schedule", "* * * * *"))
    if schedule.startswith(("CRON_TZ=", "TZ=")):
        zone, _, schedule = schedule.partition(" ")
        problems += _zone(zone.split("=", 1)[1])
    try:
        Schedule.parse(schedule)
    except CronError as exc:
        problems.append(f"schedule {spec.get('schedule')!r}: {exc}")
    if "timezone" in spec:
        problems += _zone(str(spec["timezone"]))
    if "data" in spec and "dataBase64" in spec:
        problems.append("data and dataBase64 exclude each other")
    if "data" in spec and spec.get("contentType") == "application/json":
        try:
            json.loads(spec["data"])
        except ValueError:
            problems.append("data is not JSON, yet contentType is application/json")
    return problems


def sink_binding(body: Mapping[str, Any]) -> list[str]:
    subject = body.get("spec", {}).get("subject", {})
    if bool(subject.get("name")) == bool(subject.get("selector")):
        return ["the subject names exactly one of name and selector"]
    return []


CHECKS: dict[tuple[str, str], Callable[[Mapping[str, Any]], list[str]]] = {
    ("serving.knative.dev/v1", "Service"): service,
    ("serving.knative.dev/v1beta1", "DomainMapping"): domain_mapping,
    ("eventing.knative.dev/v1", "Broker"): broker_object,
    ("eventing.knative.dev/v1", "Trigger"): trigger,
    ("sources.knative.dev/v1", "PingSource"): ping_source,
    ("sources.knative.dev/v1", "SinkBinding"): sink_binding,
}


# --- values ----------------------------------------------------------------------------------


def _number(value: str, low: float, high: float | None = None) -> str | None:
    wanted = f"a number >= {low}" + (f" and <= {high}" if high is not None else "")
    try:
        number = float(value)
    except ValueError:
        return wanted
    return None if low <= number and (high is None or number <= high) else wanted


def _integer(value: str, low: int) -> str | None:
    return None if value.isdigit() and int(value) >= low else f"an integer >= {low}"


def _all_ints(*values: str | None) -> bool:
    return all(v is None or str(v).isdigit() for v in values)


def _metric(value: str, scaling_class: str) -> str | None:
    allowed = {"concurrency", "rps"} if scaling_class == KPA else {"cpu", "memory"}
    if scaling_class == HPA and value not in {"concurrency", "rps"}:
        return None  # the HPA also takes custom metrics
    return None if value in allowed else f"one of {sorted(allowed)} for {scaling_class}"


def _go_duration(value: str, low: float, high: float | None) -> str | None:
    wanted = f"a duration such as '60s' between {low}s and {high}s" if high else "a duration"
    if not GO_DURATION.match(value):
        return wanted
    seconds = sum(
        float(n) * GO_UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value)
    )
    return None if low <= seconds and (high is None or seconds <= high) else wanted


def _zone(name: str) -> list[str]:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [f"unknown time zone {name!r}"]
    return []
