#!/usr/bin/env python3
"""neuroca over HTTP from Python, with the standard library only (urllib.request and json).

A small client class (NeurocaClient) for the node's HTTP/JSON API, then a walk through it that checks
its own results: create a persona with skills, remember memories, search them, get one and its
history, publish an event, take it with a long poll, ack it with a result, and read an error. Exits
0 only when every step gave what it should, so CI runs it as a smoke test against a real node.

Bodies are the protobuf messages of proto/neuroca.proto in protobuf's JSON mapping with the proto
field names (persona_id, required_skills, ...); replies print every scalar field, defaults too.
Two rules of that mapping matter to a client: 64-bit integers (times in microseconds, versions,
counts) are JSON strings, and enums are their names ("STM", "EVENT_ACKED"). Errors are
{"code", "message", "details"} with the matching HTTP status ("NOT_FOUND" and 404, ...).

Usage:
  python3 examples/python_http_client.py [--url http://127.0.0.1:7480] [--tenant T]

--url defaults to $NCA_HTTP_URL, then http://127.0.0.1:7480 (the node's http.listen default).
--tenant defaults to a new tenant per run (header X-Neuroca-Tenant), so runs do not see each other.
Exit status: 0 all checks passed, 1 a check or a request failed, 2 bad command line.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class NeurocaError(Exception):
    """An error reply of the API: HTTP status plus the body's code, message and details."""

    def __init__(self, status, code, message, details=None):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class NeurocaClient:
    """A client for one node's HTTP API. One instance per tenant; not shared between threads."""

    def __init__(self, base_url, tenant="", token="", timeout=10.0):
        self.base_url = base_url.rstrip("/")
        self.tenant = tenant
        self.token = token
        self.timeout = timeout

    def _request(self, method, path, body=None, timeout=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.tenant:
            request.add_header("X-Neuroca-Tenant", self.tenant)
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as reply:
                text = reply.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", errors="replace")
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = {}
            if not isinstance(parsed, dict):
                parsed = {}
            raise NeurocaError(error.code, parsed.get("code", "unknown"),
                               parsed.get("message", text.strip()),
                               parsed.get("details")) from None
        return json.loads(text) if text.strip() else {}

    @staticmethod
    def _quote(segment):
        return urllib.parse.quote(segment, safe="")

    # --- operations -------------------------------------------------------------------------------

    def health(self):
        """GET /health: the node is alive (raises when it is not)."""
        return self._request("GET", "/health")

    # --- personas ---------------------------------------------------------------------------------

    def create_persona(self, persona_id, **profile):
        """POST /v1/personas with a Persona: name, role, skills {skill: proficiency}, capacity, ..."""
        return self._request("POST", "/v1/personas", dict(profile, id=persona_id))

    # --- memories ---------------------------------------------------------------------------------

    def remember(self, persona_id, content, **fields):
        """POST /v1/personas/{id}/memories with a MemoryInput: importance, tags, metadata,
        session_id, id, ... Returns a RememberReply: {"item": MemoryItem, "created": bool}."""
        return self._request("POST", f"/v1/personas/{self._quote(persona_id)}/memories",
                             dict(fields, content=content))

    def search(self, persona_id, query, k=5, **fields):
        """POST /v1/personas/{id}/memories/search with a RecallRequest: query, k, tiers, filter,
        mode, include_shared, ... Returns a RecallReply: {"hits": [RecallHit]} best first."""
        return self._request("POST", f"/v1/personas/{self._quote(persona_id)}/memories/search",
                             dict(fields, query=query, k=k))

    def get(self, memory_id):
        """GET /v1/memories/{id}: an ItemReply, {"item": MemoryItem}."""
        return self._request("GET", f"/v1/memories/{self._quote(memory_id)}")

    def history(self, memory_id):
        """GET /v1/memories/{id}/history: a HistoryReply, {"records": [HistoryRecord]}."""
        return self._request("GET", f"/v1/memories/{self._quote(memory_id)}/history")

    # --- events -----------------------------------------------------------------------------------

    def publish(self, *events):
        """POST /v1/events with a PublishRequest {"events": [EventInput]} (all or nothing).
        Returns a PublishReply: {"events": [Event]} as stored."""
        return self._request("POST", "/v1/events", {"events": list(events)})

    def next_event(self, persona_id, wait_ms=5000):
        """POST /v1/personas/{id}/events/next: long poll for the persona's next event. Returns a
        NextEventReply; without "event" when none arrived within the wait."""
        # The node may hold the request for the whole wait: give the socket that much more time.
        return self._request("POST", f"/v1/personas/{self._quote(persona_id)}/events/next",
                             {"wait_ms": wait_ms}, timeout=self.timeout + wait_ms / 1000.0)

    def ack(self, event_id, attempt, result=""):
        """POST /v1/events/{id}/ack: settles delivery number `attempt` (the event's "attempts"); a
        result becomes a memory of the persona. Returns an EventReply, {"event": Event}."""
        return self._request("POST", f"/v1/events/{self._quote(event_id)}/ack",
                             {"attempt": attempt, "result": result})


# --- the walk-through ------------------------------------------------------------------------------


class Checks:
    """Counts failed checks and prints each result."""

    def __init__(self):
        self.failures = 0

    def expect(self, condition, what, shown=None):
        if condition:
            print(f"  ok: {what}")
        else:
            self.failures += 1
            print(f"  CHECK FAILED: {what}" + ("" if shown is None else f" (got {shown!r})"))
        return condition


def walk_through(client, checks):
    persona = "py-support"
    print(f"tenant {client.tenant} at {client.base_url}")
    client.health()
    print("GET /health: the node is up")

    print("\ncreate persona")
    created = client.create_persona(persona, name="Py Support", role="Support agent",
                                    skills={"python": 0.9, "billing": 0.4}, capacity=5)
    profile = created.get("persona", created)
    checks.expect(profile.get("id") == persona, "the reply names the persona", profile.get("id"))
    checks.expect(profile.get("skills", {}).get("python") == 0.9, "skills are stored",
                  profile.get("skills"))

    print("\nremember")
    facts = [
        ("Ada is allergic to peanuts", 0.8, ["health"]),
        ("Ada's favourite colour is green", 0.5, ["preferences"]),
        ("Ada pays her invoices by bank transfer", 0.6, ["billing"]),
    ]
    ids = []
    for content, importance, tags in facts:
        reply = client.remember(persona, content, importance=importance, tags=tags,
                                metadata={"source": "python-example"})
        item = reply.get("item", {})
        ids.append(item.get("id", ""))
        print(f"  {item.get('id')} tier {item.get('tier')} health {item.get('health')}: {content}")
        checks.expect(item.get("content") == content and reply.get("created", False),
                      "stored as a new memory", reply)

    print("\nsearch")
    hits = client.search(persona, "what is Ada allergic to", k=2).get("hits", [])
    for hit in hits:
        print(f"  [{hit.get('score', 0):.4f}] {hit.get('item', {}).get('content')}")
    checks.expect(len(hits) >= 1 and "peanuts" in hits[0].get("item", {}).get("content", ""),
                  "the best hit is the allergy", hits[:1])
    tagged = client.search(persona, "Ada", k=5, filter={"tags": ["billing"]}).get("hits", [])
    checks.expect([h.get("item", {}).get("id") for h in tagged] == [ids[2]],
                  "a tag filter keeps only the billing memory", tagged)

    print("\nget and history")
    item = client.get(ids[0]).get("item", {})
    checks.expect(item.get("content") == facts[0][0], "get returns the memory", item)
    checks.expect(item.get("metadata", {}).get("source") == "python-example",
                  "metadata comes back", item.get("metadata"))
    records = client.history(ids[0]).get("records", [])
    for record in records:
        print(f"  {record.get('action')} at {record.get('at_us')}: {record.get('new_content', '')}")
    checks.expect(len(records) >= 1 and records[0].get("action") == "ADD",
                  "the history starts with ADD", records[:1])

    print("\npublish, next, ack")
    published = client.publish({
        "topic": "support.ticket_created",
        "priority": "HIGH",
        "payload": json.dumps({"ticket": "T-7", "text": "pip install fails"}),
        "required_skills": ["python"],
        "from": "customer-9",
    }).get("events", [])
    checks.expect(len(published) == 1, "one event stored", published)
    event_id = published[0].get("id", "") if published else ""
    print(f"  published {event_id} ({published[0].get('state') if published else '-'})")
    delivered = client.next_event(persona, wait_ms=5000)
    event = delivered.get("event")
    checks.expect(event is not None and event.get("id") == event_id,
                  f"next hands {persona} the event", delivered)
    if event is not None:
        attempt = event.get("attempts", 0)
        acked = client.ack(event["id"], attempt, result="asked the customer for pip's log").get(
            "event", {})
        print(f"  acked attempt {attempt}: {acked.get('state')}, result memory "
              f"{acked.get('result_memory_id')}")
        checks.expect(acked.get("state") == "EVENT_ACKED", "the event is acked", acked)
        if acked.get("result_memory_id"):
            result_item = client.get(acked["result_memory_id"]).get("item", {})
            checks.expect("pip's log" in result_item.get("content", ""),
                          "the ack's result became a memory of the persona", result_item)
        else:
            checks.expect(False, "the acked event names its result memory", acked)
    empty = client.next_event(persona, wait_ms=0)
    checks.expect("event" not in empty, "no event left: the reply has no event", empty)

    print("\nerrors")
    try:
        client.get("no-such-memory")
        checks.expect(False, "a missing memory is an error")
    except NeurocaError as error:
        print(f"  {error}")
        checks.expect(error.status == 404, "a missing memory is 404", error.status)
        checks.expect(bool(error.code) and bool(error.message),
                      "the error body has a code and a message", (error.code, error.message))
    try:
        client.remember(persona, "")
        checks.expect(False, "an empty memory is refused")
    except NeurocaError as error:
        print(f"  {error}")
        checks.expect(error.status == 400, "an empty memory is 400", error.status)


def main(argv):
    parser = argparse.ArgumentParser(description="neuroca HTTP API walk-through (stdlib only)")
    parser.add_argument("--url", default=os.environ.get("NCA_HTTP_URL", "http://127.0.0.1:7480"),
                        help="base URL of the node's HTTP API (default: %(default)s)")
    parser.add_argument("--tenant", default="",
                        help="tenant for every request (default: a new one per run)")
    parser.add_argument("--token", default=os.environ.get("NCA_TOKEN", ""),
                        help="API key or JWT when the node has auth enabled")
    args = parser.parse_args(argv)
    tenant = args.tenant or f"py-demo-{int(time.time() * 1000)}"
    client = NeurocaClient(args.url, tenant=tenant, token=args.token)
    checks = Checks()
    try:
        walk_through(client, checks)
    except NeurocaError as error:
        print(f"python_http_client: request failed: {error}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as error:
        print(f"python_http_client: cannot talk to {args.url}: {error}", file=sys.stderr)
        return 1
    if checks.failures:
        print(f"python_http_client: FAILED ({checks.failures} failed checks)")
        return 1
    print("python_http_client: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
