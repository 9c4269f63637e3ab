"""The figures of ``make load``: what was asked, what was answered, and what AWS says happened.

``analyse`` turns the raw outcome of a run (every HTTP answer, every deployment record, the
calls opsbot's functions made as the local stack logged them, and ECS as it stands) into the
report written to ``bench/load.json``; ``table`` prints it.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TERMINAL = {"succeeded", "failed", "rolled_back", "rejected", "denied", "expired"}
# answers the contract allows under load and injected faults: not failures of the harness
EXPECTED_STATUSES = {400, 404, 409, 502, 503}


@dataclass
class Outcome:
    """The raw outcome of one run."""

    rates: dict[str, float]
    seed: int
    steps: int
    concurrency: int
    answers: list[dict[str, Any]]
    accepted: list[str]
    records: dict[str, dict[str, Any] | None]
    effects: dict[str, Any]
    ecs: dict[str, Any]
    storm: list[dict[str, Any]]
    injected: dict[str, int]
    timings: dict[str, float]


def _reason(answer: dict[str, Any]) -> str:
    if answer["status"] == 0:
        return f"no answer ({answer['error']})"
    body = answer["body"] if isinstance(answer["body"], dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        return f"{answer['status']} {error.get('code', '?')}"
    return f"{answer['status']} {body.get('message') or body.get('raw') or '?'}"


def _failed(answers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for answer in answers:
        if 200 <= answer["status"] < 300:
            continue
        reason = _reason(answer)
        entry = grouped.setdefault(
            reason,
            {
                "count": 0,
                "expected": answer["status"] in EXPECTED_STATUSES,
                "by_request": Counter(),
                "example": "",
            },
        )
        entry["count"] += 1
        entry["by_request"][answer["kind"]] += 1
        body = answer["body"] if isinstance(answer["body"], dict) else {}
        error = body.get("error")
        if not entry["example"] and isinstance(error, dict):
            entry["example"] = str(error.get("message", ""))[:160]
    for entry in grouped.values():
        entry["by_request"] = dict(entry["by_request"])
    return dict(sorted(grouped.items(), key=lambda kv: -int(kv[1]["count"])))


def _at(text: str | None) -> float | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def _interval(record: dict[str, Any], end_of_run: float) -> tuple[float, float] | None:
    """When a deployment was in progress (its first in_progress event to its end)."""
    events = record.get("events") or []
    starts = [_at(e["at"]) for e in events if e["status"] == "in_progress"]
    if not starts or starts[0] is None:
        return None
    end = _at(record.get("finished_at"))
    if end is None and record["status"] in TERMINAL:
        end = _at(events[-1]["at"])
    return starts[0], end if end is not None else end_of_run


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    most = now = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        now += step
        most = max(most, now)
    return most


def _concurrency(records: dict[str, dict[str, Any] | None], end: float) -> dict[str, Any]:
    per_service: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for record in records.values():
        if record is not None:
            span = _interval(record, end)
            if span is not None:
                per_service[f"{record['environment']}/{record['service']}"].append(span)
    return {name: _max_overlap(spans) for name, spans in sorted(per_service.items())}


def _duplicates(outcome: Outcome, answers: list[dict[str, Any]]) -> dict[str, Any]:
    log = outcome.effects.get("log", [])
    records = [r for r in outcome.records.values() if r is not None]
    # task definition revisions: one per deployment (ECS itself, by the opsbot:deployment tag)
    per_deployment = Counter(r["deployment"] for r in outcome.ecs["registered"] if r["deployment"])
    registrations = {d: n for d, n in per_deployment.items() if n > 1}
    # UpdateService with a task definition: one per ECS deployment a record names
    named = {r.get("ecs_deployment_id") for r in records} | {
        r.get("rollback_ecs_deployment_id") for r in records
    }
    named.discard(None)
    named.discard("")
    rollouts = Counter(
        e.get("ecs_deployment")
        for e in log
        if e["op"] == "ecs.UpdateService" and "taskDefinition" in e
    )
    repeated = {d: n for d, n in rollouts.items() if d in named and n > 1}
    unrecorded = {d: n for d, n in rollouts.items() if d not in named}
    # desired count changes: one per input (REST request, SNS notification)
    changes = Counter(
        (e["function"], e["input"])
        for e in log
        if e["op"] == "ecs.UpdateService" and "desiredCount" in e and "taskDefinition" not in e
    )
    capacity = {f"{f} {i}": n for (f, i), n in changes.items() if n > 1}
    # a POST repeated with its Idempotency-Key must do nothing more
    firsts = {a["key"]: a for a in answers if a["key"] and not a["repeat"]}
    changed_by = {i for (f, i) in changes if f == "api_handler"}
    key_repeats = []
    for again in (a for a in answers if a["repeat"]):
        first = firsts.get(again["key"])
        if first is None:
            continue
        first_id = (first["body"] or {}).get("id") if isinstance(first["body"], dict) else None
        again_id = (again["body"] or {}).get("id") if isinstance(again["body"], dict) else None
        new_deployment = again["status"] == 202 and again_id and again_id != first_id
        if new_deployment or (
            again["request_id"] in changed_by and first["request_id"] in changed_by
        ):
            key_repeats.append(
                {
                    "key": again["key"],
                    "path": again["path"],
                    "first": [first["status"], first_id or first["request_id"]],
                    "again": [again["status"], again_id or again["request_id"]],
                }
            )
    detail = {
        "task_definition_registrations": sum(n - 1 for n in registrations.values()),
        "update_service_repeated": sum(n - 1 for n in repeated.values()),
        "update_service_unrecorded": sum(unrecorded.values()),
        "desired_count_changes": sum(n - 1 for n in capacity.values()),
        "idempotency_key_repeats": len(key_repeats),
    }
    return {
        "total": sum(detail.values()),
        **detail,
        "evidence": {
            "registrations_per_deployment": registrations,
            "update_service_per_ecs_deployment": repeated,
            "update_service_not_in_any_record": unrecorded,
            "desired_count_changes_per_input": capacity,
            "idempotency_key_repeats": key_repeats[:20],
        },
    }


def _lost(outcome: Outcome, answers: list[dict[str, Any]]) -> dict[str, Any]:
    log = outcome.effects.get("log", [])
    not_found = [d for d in outcome.accepted if outcome.records.get(d) is None]
    rolled_out = {e.get("taskDefinition") for e in log if e["op"] == "ecs.UpdateService"}
    claimed = [
        r["id"]
        for r in outcome.records.values()
        if r is not None
        and r["status"] == "succeeded"
        and not r.get("rollback_of")
        and r.get("task_definition") not in rolled_out
    ]
    changed_by = {
        e["request_id"] for e in log if e["op"] == "ecs.UpdateService" and "desiredCount" in e
    }
    # A client's repeat under the same Idempotency-Key is answered with the first answer: its
    # change is the first request's, so it is looked up under that request's id.
    first_by_key = {
        a["key"]: a["request_id"] for a in answers if a.get("key") and not a.get("repeat")
    }
    scales = [
        a["request_id"]
        for a in answers
        if a["kind"] == "scale"
        and a["status"] == 200
        and isinstance(a["body"], dict)
        and a["body"].get("result") == "scaled"
        and (first_by_key.get(a["key"], "") if a.get("repeat") else a["request_id"])
        not in changed_by
    ]
    return {
        "total": len(not_found) + len(claimed) + len(scales),
        "deployments_not_found": not_found,
        "succeeded_without_rollout": claimed,
        "scaled_without_update_service": scales,
    }


def _ecs_agrees(outcome: Outcome) -> dict[str, Any]:
    """Per service: what ECS runs against the last deployment that changed it."""
    verdict: dict[str, Any] = {}
    for name, service in outcome.ecs["services"].items():
        started = [
            (span[0], r)
            for r in outcome.records.values()
            if r is not None
            and r["environment"] == "demo"
            and r["service"] == name
            and (span := _interval(r, 0.0)) is not None
        ]
        if not started:
            verdict[name] = {"agrees": True, "note": "no deployment changed it"}
            continue
        last = max(started, key=lambda pair: pair[0])[1]
        should = {
            "succeeded": last.get("task_definition"),
            "rolled_back": last.get("previous_task_definition"),
        }.get(last["status"])
        verdict[name] = {
            "agrees": should == service["taskDefinition"]
            or (last["status"] == "failed" and not last.get("ecs_deployment_id")),
            "ecs": service["taskDefinition"].rsplit("/", 1)[-1],
            "last_deployment": last["id"],
            "its_status": last["status"],
            "its_revision": str(should).rsplit("/", 1)[-1],
        }
    return verdict


def analyse(outcome: Outcome) -> dict[str, Any]:
    """The report (see the module doc and docs/operations/reliability.md)."""
    answers = outcome.answers
    latencies = sorted(a["seconds"] for a in answers if a["status"])
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    records = outcome.records
    stuck = {
        d: r["status"] for d, r in records.items() if r is not None and r["status"] not in TERMINAL
    }
    end = max([a.get("at", 0) for a in outcome.effects.get("log", [])] + [0.0])
    concurrency = _concurrency(records, end or datetime.now().timestamp())
    failed = _failed(answers)
    lost = _lost(outcome, answers)
    duplicated = _duplicates(outcome, answers)
    statuses = Counter(r["status"] for r in records.values() if r is not None)
    effects_calls = outcome.effects.get("calls", {})
    return {
        "faults": {**outcome.rates, "seed": outcome.seed},
        "requests": outcome.steps,
        "http_requests": len(answers),
        "idempotent_retries": sum(1 for a in answers if a["repeat"]),
        "concurrency": outcome.concurrency,
        "completed": sum(1 for a in answers if 200 <= a["status"] < 300),
        "failed": failed,
        "failed_total": sum(int(v["count"]) for v in failed.values()),
        "unexpected_failures": sum(int(v["count"]) for v in failed.values() if not v["expected"]),
        "lost": lost["total"],
        "duplicated_side_effects": duplicated["total"],
        "stuck": len(stuck),
        "max_concurrent_deploys_per_service": max(concurrency.values(), default=0),
        "p50_s": round(quantiles[49], 3),
        "p95_s": round(quantiles[94], 3),
        "detail": {
            "lost": lost,
            "duplicated_side_effects": duplicated,
            "stuck": stuck,
            "concurrent_deploys_per_service": concurrency,
            "ecs_agrees_with_records": _ecs_agrees(outcome),
            "deployments": {
                "accepted": len(outcome.accepted),
                "in_state_table": len(records),
                "not_acknowledged": len(set(records) - set(outcome.accepted)),
                "by_status": dict(statuses.most_common()),
            },
            "storm": dict(Counter(c["command"] for c in outcome.storm if "error" not in c)),
            "storm_errors": [c for c in outcome.storm if "error" in c][:5],
            "alarm_reactions": {k: v for k, v in effects_calls.items() if k.startswith("alarm")},
            "faults_injected": outcome.injected,
            "aws_calls_by_function": _by_function(effects_calls),
            "timings_s": {k: round(v, 1) for k, v in outcome.timings.items()},
        },
    }


def _by_function(calls: dict[str, int]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for key, n in calls.items():
        total[key.split(" ", 1)[0]] += n
    return dict(total.most_common())


def table(report: dict[str, Any]) -> str:
    """The figures as a plain table."""
    rows = [
        ("faults", ", ".join(f"{k} {v}" for k, v in report["faults"].items())),
        (
            "requests",
            f"{report['requests']} (+{report['idempotent_retries']} retried with the "
            f"same Idempotency-Key; {report['concurrency']} at a time)",
        ),
        ("completed (2xx)", report["completed"]),
        (
            "failed (non-2xx)",
            f"{report['failed_total']} ({report['unexpected_failures']} unexpected)",
        ),
    ]
    for reason, entry in report["failed"].items():
        flag = "" if entry["expected"] else "  UNEXPECTED"
        rows.append((f"  {reason}", f"{entry['count']}{flag}"))
    deployments = report["detail"]["deployments"]
    rows += [
        ("deployments", f"{deployments['in_state_table']} ({deployments['by_status']})"),
        ("lost", report["lost"]),
        ("duplicated_side_effects", report["duplicated_side_effects"]),
        ("stuck", report["stuck"]),
        ("max_concurrent_deploys_per_service", report["max_concurrent_deploys_per_service"]),
        (
            "ECS agrees with the records",
            all(v["agrees"] for v in report["detail"]["ecs_agrees_with_records"].values()),
        ),
        ("p50_s / p95_s", f"{report['p50_s']} / {report['p95_s']}"),
    ]
    width = max(len(str(k)) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
