#!/usr/bin/env python3
"""Writes the Box webhook signature test vectors in this directory.

The signatures are computed here, independently of the Go code, as Box documents them:
base64(HMAC-SHA256(key, raw body bytes followed by the BOX-DELIVERY-TIMESTAMP bytes)).
Run: python3 gen_vectors.py
"""
import base64, hashlib, hmac, json

PRIMARY, SECONDARY = "SamplePrimaryKey0123456789abcdef", "SampleSecondaryKey0123456789abcd"
NOW = "2025-03-04T12:00:00Z"
BODY = json.dumps({
    "type": "webhook_event", "id": "0f46a6ca-86bf-44ab-8cf5-f08e1e02876b",
    "created_at": "2025-03-04T03:59:52-08:00", "trigger": "FILE.UPLOADED",
    "webhook": {"id": "wh-1", "type": "webhook"},
    "created_by": {"type": "user", "id": "2001", "name": "Alice Admin", "login": "alice@contoso.com"},
    "source": {"type": "file", "id": "1001", "name": "budget.docx", "etag": "3",
               "path_collection": {"total_count": 2, "entries": [
                   {"type": "folder", "id": "0", "name": "All Files"},
                   {"type": "folder", "id": "100", "name": "Finance"}]}},
    "additional_info": []}, separators=(",", ":"))


def sign(key, body, ts):
    return base64.b64encode(hmac.new(key.encode(), body.encode() + ts.encode(), hashlib.sha256).digest()).decode()


def headers(ts, body=BODY, primary=PRIMARY, secondary=SECONDARY, delivery="dlv-7f3a"):
    h = {"BOX-DELIVERY-ID": delivery, "BOX-DELIVERY-TIMESTAMP": ts,
         "BOX-SIGNATURE-ALGORITHM": "HmacSHA256", "BOX-SIGNATURE-VERSION": "1"}
    if primary:
        h["BOX-SIGNATURE-PRIMARY"] = sign(primary, body, ts)
    if secondary:
        h["BOX-SIGNATURE-SECONDARY"] = sign(secondary, body, ts)
    return h


TS = "2025-03-04T11:59:50Z"
cases = {
    "valid-primary": dict(headers=headers(TS, secondary=None), verdict="accept"),
    "valid-both": dict(headers=headers(TS), verdict="accept"),
    "rotation-secondary-only": dict(headers=headers(TS, primary="RegeneratedPrimaryUnknownToUs000"), verdict="accept"),
    "rotation-secondary-header-only": dict(headers=headers(TS, primary=None), verdict="accept"),
    "rotation-crosswise": dict(headers={**headers(TS, primary=None, secondary=None),
                                        "BOX-SIGNATURE-PRIMARY": sign(SECONDARY, BODY, TS)}, verdict="accept"),
    "tampered-body": dict(headers=headers(TS), body=BODY.replace('"1001"', '"1002"'), verdict="forged"),
    "tampered-timestamp": dict(headers={**headers(TS), "BOX-DELIVERY-TIMESTAMP": "2025-03-04T11:59:51Z"}, verdict="forged"),
    "stale-timestamp": dict(headers=headers("2025-03-04T11:49:59Z"), verdict="forged"),
    "future-timestamp": dict(headers=headers("2025-03-04T12:06:00Z"), verdict="forged"),
    "missing-signature": dict(headers=headers(TS, primary=None, secondary=None), verdict="forged"),
    "missing-timestamp": dict(headers={k: v for k, v in headers(TS).items() if k != "BOX-DELIVERY-TIMESTAMP"}, verdict="forged"),
    "missing-delivery-id": dict(headers={k: v for k, v in headers(TS).items() if k != "BOX-DELIVERY-ID"}, verdict="forged"),
    "wrong-keys": dict(headers=headers(TS, primary="NotOurKey", secondary="NotOurKeyEither"), verdict="forged"),
    "wrong-algorithm": dict(headers={**headers(TS), "BOX-SIGNATURE-ALGORITHM": "HmacSHA1"}, verdict="forged"),
    "malformed-json": dict(headers=headers(TS, body="{not json"), body="{not json", verdict="malformed"),
    "replay": dict(headers=headers(TS), verdict="accept"),
    # Box's retry, or an attacker replaying a captured delivery: a new header id, same payload.
    "replay-fresh-delivery-id": dict(headers=headers(TS, delivery="dlv-99aa"), verdict="accept"),
}
for name, c in cases.items():
    v = {"name": name, "primaryKey": PRIMARY, "secondaryKey": SECONDARY, "now": NOW,
         "body": c.get("body", BODY), "headers": c["headers"], "verdict": c["verdict"]}
    if c["verdict"] == "accept":
        # Deliveries are deduplicated on the signed payload id, which Box keeps across
        # retries (the BOX-DELIVERY-ID header changes on each and is not signed).
        v["dedupKey"] = "box:" + json.loads(v["body"])["id"]
        v["itemId"], v["drive"], v["webhookId"] = "1001", "100", "wh-1"
    with open(name + ".json", "w") as f:
        json.dump(v, f, indent=2, sort_keys=True)
        f.write("\n")
