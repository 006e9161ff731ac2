#!/usr/bin/env python3
"""A small Singer tap for the tests, following the Singer specification (standard library only).

    singer_tap.py --config CONFIG --discover
    singer_tap.py --config CONFIG --catalog CATALOG [--state STATE]   (--properties is taken for --catalog)

CONFIG: {"token": "let-me-in", "data": "/path/data.json", optional "state_every": n (records between
STATE messages, 3), "synthetic": n (extra generated users), "fail_after": n (exit 2 after n records),
"slow": seconds (a pause after each record), "pid_file": path}. For the tests of what the server
allows a tap: "report": path (the tap writes {"env", "cwd", "config_mode"} there first),
"child_pid_file": path (it starts a child that sleeps, and writes its pid there), "hang":
{"discover"|"sync": seconds} (it sleeps that long first), "flood": n (it writes n bytes of junk to
stdout and exits 0), "complain": text with "complain_times": n (it writes text n times to stderr, {key} replaced by
the config's value and {quoted[key]} by its JSON, and exits 1), "deep": n (the first users record holds a value nested n levels, the second a NaN). The data file holds {"users": [...], "groups": [...]}. Streams: `users`
(replication key `updated_at`, date-time; key `id`) and `groups` (full table). In incremental mode a
stream emits the records whose replication key is at or after the state's bookmark, ordered by
(updated_at, id), and a STATE with the bookmark of the last record every `state_every` records.
A wrong token exits 1 with an authentication error on stderr, as a tap does when its API refuses it.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

STREAMS: dict[str, dict[str, Any]] = {
    "users": {
        "key_properties": ["id"],
        "replication_key": "updated_at",
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": ["null", "string"]},
            "name": {"type": ["null", "string"]},
            "score": {"type": ["null", "number"]},
            "vip": {"type": ["null", "boolean"]},
            "tags": {"type": ["null", "array"], "items": {"type": "string"}},
            "updated_at": {"type": ["null", "string"], "format": "date-time"},
        },
    },
    "groups": {
        "key_properties": ["id"],
        "replication_key": None,
        "properties": {"id": {"type": "integer"}, "title": {"type": "string"}, "founded": {"type": "string", "format": "date"}},
    },
}


def fail(message: str, code: int = 1) -> None:
    print(f"CRITICAL {message}", file=sys.stderr)
    sys.exit(code)


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")


def discover() -> dict[str, Any]:
    streams = []
    for name, spec in STREAMS.items():
        top: dict[str, Any] = {"table-key-properties": spec["key_properties"], "selected-by-default": False}
        if spec["replication_key"]:
            top["valid-replication-keys"] = [spec["replication_key"]]
        else:
            top["forced-replication-method"] = "FULL_TABLE"
        metadata = [{"breadcrumb": [], "metadata": top}] + [
            {"breadcrumb": ["properties", field], "metadata": {
                "inclusion": "automatic" if field in spec["key_properties"] else "available"}}
            for field in spec["properties"]
        ]
        streams.append({"tap_stream_id": name, "stream": name, "key_properties": spec["key_properties"],
                        "schema": {"type": "object", "properties": spec["properties"]}, "metadata": metadata})
    return {"streams": streams}


def _metadata(stream: dict[str, Any], breadcrumb: list[str]) -> dict[str, Any]:
    for entry in stream.get("metadata", []):
        if entry.get("breadcrumb") == breadcrumb:
            return dict(entry.get("metadata", {}))
    return {}


def rows(config: dict[str, Any], name: str) -> list[dict[str, Any]]:
    try:
        with open(config["data"]) as handle:
            data = json.load(handle).get(name, [])
    except OSError as error:
        fail(f"cannot read the data file: {error.strerror}")
    if name == "users":
        base = datetime(2020, 1, 1, tzinfo=UTC)
        data += [{"id": 100_000 + i, "email": f"s{i}@example.com", "name": "Synthetic", "score": i / 4, "vip": False,
                  "tags": ["generated"], "updated_at": (base + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")}
                 for i in range(int(config.get("synthetic", 0)))]
    return list(data)


def sync(config: dict[str, Any], catalog: dict[str, Any], state: dict[str, Any]) -> None:
    bookmarks = state.setdefault("bookmarks", {})
    if config.get("deep"):  # written by hand: json.dumps cannot nest that deep
        depth = int(config["deep"])
        sys.stdout.write('{"type": "RECORD", "stream": "users", "record": {"id": 0, "nested": '
                         + "[" * depth + "]" * depth + "}}\n")
        emit({"type": "RECORD", "stream": "users", "record": {"id": -1, "score": float("nan")}})
    every = int(config.get("state_every", 3))
    emitted = 0
    for stream in catalog.get("streams", []):
        name = stream["tap_stream_id"]
        top = _metadata(stream, [])
        if not (top.get("selected") or stream.get("schema", {}).get("selected")):
            continue
        spec = STREAMS[name]
        fields = [f for f in spec["properties"] if _metadata(stream, ["properties", f]).get("inclusion") == "automatic"
                  or _metadata(stream, ["properties", f]).get("selected", True)]
        key = top.get("replication-key") if top.get("replication-method") == "INCREMENTAL" else None
        emit({"type": "SCHEMA", "stream": name, "key_properties": spec["key_properties"],
              "schema": {"type": "object", "properties": {f: spec["properties"][f] for f in fields}},
              **({"bookmark_properties": [key]} if key else {})})
        records = rows(config, name)
        if key:
            start = (bookmarks.get(name) or {}).get(key)
            records = sorted((r for r in records if r.get(key) and (start is None or _at(r[key]) >= _at(start))),
                             key=lambda r: (_at(r[key]), r["id"]))
        for count, record in enumerate(records, 1):
            if "fail_after" in config and emitted >= int(config["fail_after"]):
                fail("the source API answered 500 Internal Server Error", code=2)
            emit({"type": "RECORD", "stream": name, "record": {f: record.get(f) for f in fields},
                  "time_extracted": datetime.now(UTC).isoformat()})
            emitted += 1
            if config.get("slow"):
                sys.stdout.flush()
                time.sleep(float(config["slow"]))
            if key and count % every == 0:
                bookmarks[name] = {key: record[key]}
                emit({"type": "STATE", "value": state})
        if key and records:
            bookmarks[name] = {key: records[-1][key]}
        emit({"type": "STATE", "value": state})


def _at(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--discover", action="store_true")
    parser.add_argument("--catalog")
    parser.add_argument("--properties")
    parser.add_argument("--state")
    args = parser.parse_args()
    with open(args.config) as handle:
        config = json.load(handle)
    if config.get("report"):
        with open(config["report"], "w") as handle:
            json.dump({"env": dict(os.environ), "cwd": os.getcwd(),
                       "config_mode": stat.S_IMODE(os.stat(args.config).st_mode)}, handle)
    if config.get("pid_file"):
        with open(config["pid_file"], "w") as handle:
            handle.write(str(os.getpid()))
    if config.get("child_pid_file"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(config["child_pid_file"], "w") as handle:
            handle.write(str(child.pid))
    time.sleep((config.get("hang") or {}).get("discover" if args.discover else "sync", 0))
    if config.get("flood"):
        for _ in range(0, int(config["flood"]), 1 << 16):
            sys.stdout.write("x" * (1 << 16))
        return
    if config.get("complain"):
        for _ in range(int(config.get("complain_times", 1))):
            print(config["complain"].format_map({**config, "quoted": {k: json.dumps(v) for k, v in config.items()}}),
                  file=sys.stderr)
        sys.exit(1)
    if config.get("token") != "let-me-in":
        fail("authentication failed: 401 Unauthorized (invalid token)")
    if args.discover:
        json.dump(discover(), sys.stdout)
        return
    catalog_path = args.catalog or args.properties
    if not catalog_path:
        fail("--catalog is required to sync")
    with open(catalog_path) as handle:
        catalog = json.load(handle)
    state: dict[str, Any] = {}
    if args.state:
        with open(args.state) as handle:
            state = json.load(handle)
    sync(config, catalog, state)


if __name__ == "__main__":
    main()
