"""Alertmanager's webhook payload (version 4) parsed and validated, without a database."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json

import pytest

from bi_app.alerts.alertmanager import (
    MAX_ALERTS,
    MAX_ANNOTATION_VALUE,
    ExternalAlert,
    PayloadInvalid,
    map_severity,
    parse_payload,
    parse_time,
    token_matches,
)

# The shape of Alertmanager's documented webhook_config example (one firing alert).
SAMPLE = {
    "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "bi-app",
    "groupLabels": {"alertname": "ProbeFailure"},
    "commonLabels": {
        "alertname": "ProbeFailure",
        "instance": "https://server.example.org",
        "job": "http_checks",
        "severity": "critical",
    },
    "commonAnnotations": {"summary": "BlackBox Probe Failure: https://server.example.org"},
    "externalURL": "http://alertmanager.example.org:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "ProbeFailure",
                "instance": "https://server.example.org",
                "job": "http_checks",
                "severity": "critical",
            },
            "annotations": {
                "summary": "BlackBox Probe Failure: https://server.example.org",
                "description": "Instance https://server.example.org has been down for over 5m.",
                "runbook_url": "https://runbooks.example.org/probe-failure",
            },
            "startsAt": "2023-02-06T13:08:45.828Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0",
            "fingerprint": "1a30ba71cca2921f",
        }
    ],
}


def payload(**changes) -> dict:
    data = copy.deepcopy(SAMPLE)
    data.update(changes)
    return data


def alert(**changes) -> dict:
    one = copy.deepcopy(SAMPLE["alerts"][0])
    one.update(changes)
    return one


def test_the_documented_sample_becomes_one_external_alert():
    (parsed,) = parse_payload(json.loads(json.dumps(SAMPLE)))
    assert parsed == ExternalAlert(
        fingerprint="am:1a30ba71cca2921f",
        name="ProbeFailure",
        severity="critical",
        labels=SAMPLE["alerts"][0]["labels"],
        annotations={
            "summary": "BlackBox Probe Failure: https://server.example.org",
            "description": "Instance https://server.example.org has been down for over 5m.",
            "runbook_url": "https://runbooks.example.org/probe-failure",
            "generatorURL": SAMPLE["alerts"][0]["generatorURL"],
            "externalURL": "http://alertmanager.example.org:9093",
        },
        firing=True,
        starts_at=dt.datetime(2023, 2, 6, 13, 8, 45, 828000),
        ends_at=None,
    )


def test_a_resolved_alert_is_not_firing_and_keeps_its_end():
    data = payload(
        status="resolved",
        alerts=[alert(status="resolved", endsAt="2023-02-06T14:00:00+09:00")],
    )
    (parsed,) = parse_payload(data)
    assert parsed.firing is False
    assert parsed.ends_at == dt.datetime(2023, 2, 6, 5, 0, 0)


def test_a_group_of_several_alerts_keeps_their_order_and_statuses():
    data = payload(
        alerts=[
            alert(fingerprint="aaaaaaaaaaaaaaaa"),
            alert(status="resolved", fingerprint="bbbbbbbbbbbbbbbb"),
        ]
    )
    parsed = parse_payload(data)
    assert [(a.fingerprint, a.firing) for a in parsed] == [
        ("am:aaaaaaaaaaaaaaaa", True),
        ("am:bbbbbbbbbbbbbbbb", False),
    ]


def test_an_empty_group_and_optional_fields_may_be_missing():
    data = payload(alerts=[])
    del data["truncatedAlerts"]
    assert parse_payload(data) == []
    bare = alert()
    for name in ("annotations", "endsAt", "generatorURL"):
        del bare[name]
    (parsed,) = parse_payload(payload(alerts=[bare], externalURL=""))
    assert parsed.annotations == {}
    assert parsed.ends_at is None


@pytest.mark.parametrize(
    "field",
    [
        "version",
        "groupKey",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ],
)
def test_a_missing_group_field_is_refused_by_name(field):
    data = payload()
    del data[field]
    with pytest.raises(PayloadInvalid, match=f"^{field}: missing$"):
        parse_payload(data)


@pytest.mark.parametrize("field", ["status", "labels", "startsAt"])
def test_a_missing_alert_field_is_refused_with_its_place(field):
    bad = alert()
    del bad[field]
    data = payload(alerts=[alert(), bad])
    with pytest.raises(PayloadInvalid, match=rf"^alerts\[1\]\.{field}: "):
        parse_payload(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "the body must be a JSON object"),
        ("firing", "the body must be a JSON object"),
        (payload(version="3"), "version: only version 4"),
        (payload(version=4), "version: must be a string"),
        (payload(status="pending"), "status: must be"),
        (payload(alerts={}), "alerts: must be a JSON array"),
        (payload(groupLabels=[]), "groupLabels: must be a JSON object"),
        (payload(commonLabels={"a": 1}), r"commonLabels\.a: must be a string"),
        (payload(truncatedAlerts=-1), "truncatedAlerts: "),
        (payload(truncatedAlerts="0"), "truncatedAlerts: "),
        (payload(truncatedAlerts=True), "truncatedAlerts: "),
        (payload(alerts=["x"]), r"alerts\[0\]: must be an object"),
        (payload(alerts=[alert(status="ok")]), r"alerts\[0\]\.status: must be"),
        (payload(alerts=[alert(labels={})]), r"alerts\[0\]\.labels\.alertname: missing"),
        (payload(alerts=[alert(labels={"alertname": " "})]), r"\.labels\.alertname: missing"),
        (payload(alerts=[alert(labels={"alertname": 5})]), r"labels\.alertname: must be a str"),
        (payload(alerts=[alert(labels="alertname=x")]), r"\.labels: must be an object"),
        (payload(alerts=[alert(annotations={"summary": None})]), r"summary: must be a string"),
        (payload(alerts=[alert(generatorURL=3)]), r"\.generatorURL: must be a string"),
        (payload(alerts=[alert(fingerprint="a b")]), r"\.fingerprint: "),
        (payload(alerts=[alert(fingerprint=7)]), r"\.fingerprint: "),
        (payload(alerts=[alert(fingerprint="f" * 101)]), r"\.fingerprint: "),
        (payload(alerts=[alert(labels={"alertname": "x", "v": "y" * 4097})]), r"labels\.v: "),
        (payload(alerts=[alert()] * (MAX_ALERTS + 1)), "alerts: at most"),
    ],
)
def test_a_malformed_payload_says_what_is_wrong(data, message):
    with pytest.raises(PayloadInvalid, match=message):
        parse_payload(data)


@pytest.mark.parametrize(
    "value",
    [
        "2023-02-06",
        "2023-02-06 13:08:45Z",
        "2023-02-06T13:08:45",  # no offset: not RFC 3339
        "2023-02-06T13:08Z",
        "2023-13-06T13:08:45Z",
        "2023-02-30T13:08:45Z",
        "2023-02-06T25:08:45Z",
        "2023-02-06T13:08:45+24:00",
        "2023-02-06T13:08:45.Z",
        "yesterday",
        "",
        1675688925,
        None,
    ],
)
def test_a_bad_timestamp_is_refused(value):
    with pytest.raises(PayloadInvalid, match=r"^alerts\[0\]\.startsAt: "):
        parse_payload(payload(alerts=[alert(startsAt=value)]))


def test_timestamps_become_naive_utc_and_nanoseconds_are_cut():
    assert parse_time("2018-08-03T09:52:26.739266876+02:00") == dt.datetime(
        2018, 8, 3, 7, 52, 26, 739266
    )
    assert parse_time("2023-12-31T23:30:00-01:30") == dt.datetime(2024, 1, 1, 1, 0)
    assert parse_time("2023-02-06t13:08:45.5z") == dt.datetime(2023, 2, 6, 13, 8, 45, 500000)


def test_the_zero_time_means_unset_for_ends_at_but_not_for_starts_at():
    assert parse_time("0001-01-01T00:00:00Z") is None
    (parsed,) = parse_payload(payload(alerts=[alert(endsAt="0001-01-01T00:00:00Z")]))
    assert parsed.ends_at is None
    with pytest.raises(PayloadInvalid, match=r"startsAt: must be set"):
        parse_payload(payload(alerts=[alert(startsAt="0001-01-01T00:00:00Z")]))
    with pytest.raises(PayloadInvalid, match=r"endsAt: not a valid time"):
        parse_time("0001-01-01T00:00:00+01:00", "endsAt")  # before year 1 in UTC


@pytest.mark.parametrize(
    ("label", "severity"),
    [
        ("info", "info"),
        ("none", "info"),
        ("warning", "warning"),
        ("Warning", "warning"),
        ("critical", "critical"),
        ("page", "critical"),
        ("error", "critical"),
        (" ERROR ", "critical"),
        ("emergency", "emergency"),
        ("disaster", "emergency"),
        ("whatever", "warning"),
        ("", "warning"),
        (None, "warning"),
    ],
)
def test_severity_labels_map_to_the_four_severities(label, severity):
    assert map_severity(label) == severity


def test_an_alert_without_a_severity_label_is_a_warning():
    labels = {"alertname": "DiskFull", "instance": "db1"}
    (parsed,) = parse_payload(payload(alerts=[alert(labels=labels)]))
    assert parsed.severity == "warning"
    assert parsed.name == "DiskFull"


def test_without_a_fingerprint_the_sorted_labels_are_hashed():
    labels = {"alertname": "DiskFull", "instance": "db1"}
    reordered = {"instance": "db1", "alertname": "DiskFull"}
    first = alert(labels=labels)
    del first["fingerprint"]
    second = alert(labels=reordered, fingerprint="")
    a, b = parse_payload(payload(alerts=[first, second]))
    blob = json.dumps(sorted(labels.items()), separators=(",", ":"))
    assert a.fingerprint == b.fingerprint == "am:" + hashlib.sha256(blob.encode()).hexdigest()[:16]
    (other,) = parse_payload(payload(alerts=[alert(labels={**labels, "instance": "db2"})]))
    assert other.fingerprint != a.fingerprint


def test_links_that_are_not_http_are_dropped_and_long_annotations_cut():
    data = payload(
        externalURL="javascript:alert(1)",
        alerts=[
            alert(
                generatorURL="/graph?g0.expr=up",  # relative: no host to go to
                annotations={
                    "runbook_url": "javascript:alert(1)",
                    "description": "x" * (MAX_ANNOTATION_VALUE + 10),
                },
            )
        ],
    )
    (parsed,) = parse_payload(data)
    assert set(parsed.annotations) == {"description"}
    assert len(parsed.annotations["description"]) == MAX_ANNOTATION_VALUE
    assert parsed.annotations["description"].endswith("…")


def test_a_long_alertname_is_cut_to_the_column():
    (parsed,) = parse_payload(payload(alerts=[alert(labels={"alertname": "n" * 300})]))
    assert parsed.name == "n" * 200


def test_the_bearer_token_is_matched_exactly():
    token = "alertmanager-token-0123456789"
    assert token_matches(f"Bearer {token}", token)
    assert token_matches(f"bearer  {token} ", token)
    assert not token_matches("", token)
    assert not token_matches(token, token)
    assert not token_matches(f"Basic {token}", token)
    assert not token_matches(f"Bearer {token}x", token)
    assert not token_matches(f"Bearer {token[:-1]}", token)
