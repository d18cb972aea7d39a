"""Sample documents the sandbox's S3 data sources start with, generated here (no downloads).

SANDBOXDS1 holds an operations handbook: Markdown documents, some with the
`<name>.metadata.json` sidecars Bedrock reads metadata attributes from. SANDBOXDS2 holds a
support archive where a few files cannot be ingested, so its syncs end FAILED.
"""

import json
from textwrap import dedent

HANDBOOK_BUCKET = "kbsync-sandbox-ops-handbook"
SUPPORT_ARCHIVE_BUCKET = "kbsync-sandbox-support-archive"

METADATA_SUFFIX = ".metadata.json"


def _page(title: str, owner: str, body: str) -> bytes:
    text = f"# {title}\n\n_Owner: {owner}. Last reviewed during the quarterly handbook review._\n\n"
    return (text + dedent(body).strip() + "\n").encode()


def _metadata(**attributes: object) -> bytes:
    return json.dumps({"metadataAttributes": attributes}, indent=2).encode()


def handbook_documents() -> dict[str, bytes]:
    """The operations handbook of SANDBOXDS1: 20 documents, 6 metadata sidecars."""
    documents = {
        "oncall/rotation.md": _page(
            "On-call rotation",
            "Site Reliability",
            """
            Every production service has a primary and a secondary on-call engineer. Shifts
            last one week and hand over on Mondays at 10:00 local time of the primary.

            ## Handover
            1. Review open incidents and pages from the last shift.
            2. Read the notes the previous primary left in the on-call channel.
            3. Confirm in the paging tool that you receive test pages on your phone.

            ## Expectations
            Acknowledge a page within 5 minutes and start working on it within 15. If you
            cannot, escalate to the secondary; the secondary escalates to the team lead.
            """,
        ),
        "oncall/paging-policy.md": _page(
            "Paging policy",
            "Site Reliability",
            """
            Pages wake people up, so only symptoms users notice may page: error rate, latency
            and availability against the service level objectives. Causes (a full disk, a
            restarting pod) open tickets instead.

            ## Severity
            - **SEV1**: a customer-facing outage. Page primary and secondary, open a bridge.
            - **SEV2**: degraded service for a subset of customers. Page primary.
            - **SEV3**: no customer impact yet. Ticket for the next business day.
            """,
        ),
        "oncall/escalation-contacts.md": _page(
            "Escalation contacts",
            "Site Reliability",
            """
            Escalate in this order and move on after 10 minutes without an answer:
            secondary on-call, team lead, engineering manager, head of infrastructure.

            Vendor escalations (cloud provider, CDN, payment processor) go through the
            support portals linked from the service catalog; quote the account number
            stored in the team vault, never in tickets or chat.
            """,
        ),
        "runbooks/database-failover.md": _page(
            "Runbook: database failover",
            "Data Platform",
            """
            Use this runbook when the primary database stops accepting writes for more than
            two minutes and automatic failover has not happened.

            ## Steps
            1. Confirm the primary is unhealthy from two independent dashboards.
            2. Freeze deployments in the release channel.
            3. Promote the replica with the lowest replication lag.
            4. Point the writer endpoint at the promoted replica and watch connection counts.
            5. Open a ticket to rebuild the old primary as a replica.

            ## Rollback
            Failing back is a planned change, never part of the incident.
            """,
        ),
        "runbooks/disk-full.md": _page(
            "Runbook: disk almost full",
            "Site Reliability",
            """
            Alerts fire at 85% usage and page at 95%.

            ## Steps
            1. Find the largest directories with `du -xh --max-depth=2 / | sort -h | tail`.
            2. Old logs: compress or delete those already shipped to central logging.
            3. Core dumps: copy one to the incident folder, delete the rest.
            4. If the data itself grew, resize the volume; do not delete data to make room.
            """,
        ),
        "runbooks/certificate-renewal.md": _page(
            "Runbook: TLS certificate renewal",
            "Security Engineering",
            """
            Certificates renew automatically 30 days before expiry. The expiry alert fires
            at 14 days, which means automation failed.

            ## Steps
            1. Check the renewal job's last run and its error in the scheduler.
            2. Verify the DNS validation record still exists.
            3. Renew by hand with the documented command and deploy the new certificate.
            4. Record the root cause in the certificate inventory.
            """,
        ),
        "runbooks/queue-backlog.md": _page(
            "Runbook: message queue backlog",
            "Platform",
            """
            A backlog grows when consumers are slower than producers. Age of the oldest
            message is the signal that matters, not the queue length.

            ## Steps
            1. Check consumer errors first: a poison message blocks a partition.
            2. Move poison messages to the dead-letter queue with the replay tool.
            3. Scale consumers out; the autoscaler's upper bound can be raised for 24 hours.
            4. Announce the expected catch-up time in the incident channel.
            """,
        ),
        "runbooks/cache-stampede.md": _page(
            "Runbook: cache stampede",
            "Platform",
            """
            When a hot cache key expires, thousands of requests hit the database together.
            Symptoms: database CPU at 100% right after a deploy or a cache flush.

            ## Steps
            1. Re-enable request coalescing if a deploy disabled it.
            2. Warm the top 1,000 keys with the warm-up job.
            3. Rate-limit the heaviest endpoint at the gateway until latency recovers.
            """,
        ),
        "incidents/severity-levels.md": _page(
            "Incident severity levels",
            "Site Reliability",
            """
            Severity is about customer impact, not about how hard the fix is. When unsure,
            pick the higher severity: downgrading later is cheap.

            | Severity | Customer impact | Update cadence |
            |----------|-----------------|----------------|
            | SEV1 | Outage | every 30 minutes |
            | SEV2 | Degradation | every hour |
            | SEV3 | None yet | daily |
            """,
        ),
        "incidents/incident-commander.md": _page(
            "The incident commander",
            "Site Reliability",
            """
            The incident commander coordinates; they do not debug. They assign an operations
            lead, a communications lead and a scribe, keep the timeline, and decide when the
            incident is mitigated.

            Hand over command explicitly ("you are now the incident commander") and write the
            handover in the timeline.
            """,
        ),
        "incidents/postmortem-template.md": _page(
            "Postmortem template",
            "Site Reliability",
            """
            Postmortems are blameless and due within five business days of a SEV1 or SEV2.

            ## Sections
            - Summary: what happened, in three sentences a customer could read.
            - Impact: duration, affected customers, failed requests.
            - Timeline: detection, escalation, mitigation, resolution (UTC).
            - Root causes and contributing factors.
            - Action items, each with an owner and a due date.
            """,
        ),
        "incidents/status-page.md": _page(
            "Updating the status page",
            "Customer Support",
            """
            The communications lead posts the first status page update within 15 minutes of
            declaring a SEV1. Say what customers see, not what we think the cause is.

            Good: "Some customers cannot log in. We are working on a fix."
            Avoid: "A misconfigured load balancer in one region drops sessions."
            """,
        ),
        "deployments/release-process.md": _page(
            "Release process",
            "Platform",
            """
            Releases go out through the pipeline only. Each release is canaried on 5% of
            traffic for 30 minutes; the pipeline rolls back on its own when the canary's
            error rate exceeds the baseline by half a percentage point.

            Friday-afternoon and holiday releases need the approval of the on-call primary.
            """,
        ),
        "deployments/feature-flags.md": _page(
            "Feature flags",
            "Platform",
            """
            New behaviour ships dark behind a flag and is enabled gradually: internal users,
            1%, 10%, 50%, everyone. Flags older than 90 days are reported weekly and must be
            removed or justified.

            Never use a flag as a permanent configuration switch; that is what configuration
            is for.
            """,
        ),
        "deployments/rollback.md": _page(
            "Rolling back a release",
            "Platform",
            """
            Roll back first, investigate later. The pipeline's rollback redeploys the previous
            artifact in under five minutes. Database migrations are written to be backward
            compatible for one release, so a rollback never needs a reverse migration.
            """,
        ),
        "security/access-reviews.md": _page(
            "Quarterly access reviews",
            "Security Engineering",
            """
            Every quarter, managers confirm the production access of each report. Access not
            confirmed within two weeks is revoked automatically.

            Break-glass accounts are reviewed monthly, and every use of one opens a ticket
            that the security team closes after reviewing the session log.
            """,
        ),
        "security/secrets-handling.md": _page(
            "Handling secrets",
            "Security Engineering",
            """
            Secrets live in the secrets manager and are read at start-up. They never appear
            in source code, tickets, chat, logs or screenshots.

            If a secret leaks, rotate it first and report it second; the report is never a
            reason to delay the rotation.
            """,
        ),
        "security/vulnerability-sla.md": _page(
            "Vulnerability remediation deadlines",
            "Security Engineering",
            """
            | Severity | Internet-facing | Internal |
            |----------|-----------------|----------|
            | Critical | 72 hours | 7 days |
            | High | 14 days | 30 days |
            | Medium | 60 days | 90 days |

            Exceptions are approved by the security team and expire after 90 days.
            """,
        ),
        "capacity/load-testing.md": _page(
            "Load testing",
            "Performance",
            """
            Services are load tested before launch and before each peak season at twice the
            forecast peak. Tests run against the staging environment with production-sized
            data; results go in the capacity plan together with the saturation point.
            """,
        ),
        "capacity/cost-review.md": _page(
            "Monthly cost review",
            "FinOps",
            """
            Each team reviews its cloud bill monthly. Anything growing faster than traffic is
            explained in the review notes. Idle resources older than 30 days are tagged for
            deletion and removed the following month unless someone claims them.
            """,
        ),
    }
    sidecars = {
        "oncall/rotation.md": _metadata(team="sre", category="oncall", reviewed_year=2025),
        "oncall/paging-policy.md": _metadata(team="sre", category="policy", mandatory=True),
        "runbooks/database-failover.md": _metadata(
            team="data-platform", category="runbook", services=["orders-db", "billing-db"]
        ),
        "runbooks/disk-full.md": _metadata(team="sre", category="runbook"),
        "incidents/postmortem-template.md": _metadata(team="sre", category="template"),
        "security/secrets-handling.md": _metadata(
            team="security", category="policy", mandatory=True, reviewed_year=2025
        ),
    }
    documents.update({key + METADATA_SUFFIX: body for key, body in sidecars.items()})
    return documents


def support_archive_documents() -> dict[str, bytes]:
    """The support archive of SANDBOXDS2: good pages plus three files ingestion rejects."""
    return {
        "faq/billing.md": _page(
            "Billing FAQ",
            "Customer Support",
            """
            Invoices are issued on the first business day of the month. Refunds go back to
            the original payment method within ten business days.
            """,
        ),
        "faq/accounts.md": _page(
            "Accounts FAQ",
            "Customer Support",
            """
            Customers can change the account owner from the settings page. Deleting an
            account keeps invoices for seven years, as tax law requires.
            """,
        ),
        "macros/outage-reply.md": _page(
            "Reply macro: ongoing outage",
            "Customer Support",
            """
            Thanks for reaching out. We are aware of the problem and are working on a fix.
            You can follow progress on our status page; we will update this ticket as well.
            """,
        ),
        "faq/pricing.md": _page(
            "Pricing FAQ",
            "Customer Support",
            """
            Annual plans are billed upfront at a 15% discount over monthly billing.
            """,
        ),
        # A sidecar that is not valid JSON: Bedrock fails the document it belongs to.
        "faq/pricing.md" + METADATA_SUFFIX: b'{"metadataAttributes": {"plan": "annual",}',
        # Exported from a scanner that wrote HTML into a .pdf: the parser rejects it.
        "contracts/master-services-agreement.pdf": (
            b"<html><body>Scanned document could not be converted</body></html>"
        ),
        # A video call recording: not a document format a knowledge base ingests.
        "recordings/escalation-call-2024-11-03.mp4": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64,
    }
