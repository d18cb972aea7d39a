"""Seed 002's upload figures over HTTP. A script that prints figures, not a timed test.

    POST /api/v2/data-ingestion/jobs with a payload just under the 30 MB limit, as a JSON body
    and as a multipart `data` file, generic-json and content-hub: seconds until the 202 (the
    records read by the adapter and staged in the store), and the server's peak memory over
    its resting size while it took the upload, as a multiple of the payload (target < 5x).

It starts kbsync (`streamlit run app.py`, on the sandbox, a fresh SQLite file); before each
upload it resets the process's peak-RSS mark (/proc/<pid>/clear_refs, Linux), so each figure is
that upload's own. Each job is cancelled once accepted (its delivery is another bench's): the
figures are the API's and the staging's.

Run with `.venv/bin/python bench/bench_ingest_upload.py` (about two minutes: content-hub's
HTML to Markdown is the slow part).
"""

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tests.api.client as client_module
from tests.api.client import JsonClient
from tests.support.servers import start_console

JOBS = "/api/v2/data-ingestion/jobs"
MB = 1024 * 1024
PAYLOAD_BYTES = 29 * MB  # under the 30 MB limit with the multipart envelope
BOUNDARY = "kbsyncbenchboundary"
CONNECTION = "sandbox-custom"
# A CMS page as content-hub exports it: headings, entities, a table, lists, links.
PAGE_HTML = (
    "<div><h1>Caf&eacute; {n} &amp; Bar</h1><p>Welcome to the <strong>Caf&eacute;</strong>"
    "&nbsp;&mdash; read the <a href='https://example.com/menu?item={n}&amp;v=2'>menu</a>.</p>"
    "<h2>Hours</h2><table><tr><td>Day</td><td>Open</td></tr><tr><td>Mon&ndash;Fri</td>"
    "<td>8:00 | 18:00</td></tr></table><ul><li>Coffee<ul><li>Espresso</li></ul></li>"
    "<li>Tea &lt;green&gt;</li></ul>" + "<p>{text}</p>" * 4 + "</div>"
)


def generic_payload(target: int) -> bytes:
    record_size = 10_000
    count = target // (record_size + 60)
    records = [
        {"id": f"doc-{n}", "title": f"Record {n}", "content": f"Record {n} " + "x" * record_size}
        for n in range(count)
    ]
    return json.dumps({"records": records}).encode()


def content_hub_payload(target: int) -> bytes:
    text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8
    item = {
        "content": {
            "documentIdentifier": "Page://content/acme/article-{n}",
            "inlineContent": {"textContent": {"data": PAGE_HTML}, "type": "TEXT"},
        },
        "metadata": {
            "inlineAttributes": [
                {"key": "Title", "value": {"stringValue": "Article {n}", "type": "STRING"}},
                {"key": "keywords", "value": {"stringValue": "cafe,menu", "type": "STRING"}},
            ]
        },
    }
    template = json.dumps(item)
    size = len(template) + len(text) * 4
    count = target // (size + 2)
    items = [
        json.loads(template.replace("{n}", str(n)).replace("{text}", text)) for n in range(count)
    ]
    return json.dumps([items, {"timeTaken": "250ms"}]).encode()


def multipart(adapter: str, data: bytes) -> bytes:
    fields = {"adapterType": adapter, "knowledgeBaseId": CONNECTION}
    head = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    file_head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="data"; filename="data.json"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode()
    return head + file_head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def upload(api: JsonClient, pid: int, adapter: str, data: bytes, as_multipart: bool) -> None:
    time.sleep(1.0)  # let the previous job's memory settle
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak RSS mark back to the present
    resting = status_kb(pid, "VmRSS")
    started = time.monotonic()
    if as_multipart:
        body = multipart(adapter, data)
        reply = api.post(
            JOBS, raw=body, headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        )
    else:
        body = b'{"adapterType": "%s", "knowledgeBaseId": "%s", "data": ' % (
            adapter.encode(),
            CONNECTION.encode(),
        )
        body += data + b"}"
        reply = api.post(JOBS, raw=body, headers={"Content-Type": "application/json"})
    seconds = time.monotonic() - started
    assert reply.status == 202, (reply.status, reply.json)
    peak = status_kb(pid, "VmHWM")
    job_id = reply.json["jobId"]
    records = api.get(f"{JOBS}/{job_id}").json["data"]["recordCount"]
    api.request("DELETE", f"{JOBS}/{job_id}")
    extra = (peak - resting) * 1024
    kind = "multipart" if as_multipart else "JSON body"
    print(
        f"{adapter:13s} {kind:10s} {len(data) / MB:5.1f} MB, {records:6d} records: "
        f"202 after {seconds:5.1f} s, peak +{extra / MB:6.1f} MB = {extra / len(data):.2f}x payload"
    )


def main() -> None:
    generic = generic_payload(PAYLOAD_BYTES)
    hub = content_hub_payload(PAYLOAD_BYTES)
    with start_console(
        Path(tempfile.mkdtemp()), {"KBSYNC_INGEST_RATE": "400"}, name="bench-ingest"
    ) as console:
        api = JsonClient(console.url)
        pid = console.process.pid
        # content-hub's 30 MB takes longer than the test client's 30 s.
        client_module.REQUEST_TIMEOUT_SECONDS = 600
        upload(api, pid, "generic-json", generic, as_multipart=False)
        upload(api, pid, "generic-json", generic, as_multipart=True)
        upload(api, pid, "content-hub", hub, as_multipart=True)


if __name__ == "__main__":
    main()
