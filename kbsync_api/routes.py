"""The JSON API's Starlette routes: read the HTTP request, call the contract, write its reply.

app.py mounts these beside the console (`st.App(routes=api_routes())`). Streamlit gives custom
routes neither auth nor an XSRF check, so each checks the bearer token and the scope its method
needs itself (declared with the route, below), and takes bodies only as application/json.
Core calls block (SQLite, boto3), so they run in the thread pool, never on the event loop that
serves every console session. Every answer, errors included, is JSON: never Starlette's
plain-text pages.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kbsync_api import channels, ingestion_body, longpoll
from kbsync_api import contract as api
from kbsync_api import ingestion as ingestion_api
from kbsync_api import schedules as schedules_api
from kbsync_api import table_jobs as table_jobs_api
from kbsync_core.runtime import Kbsync, get_kbsync
from kbsync_core.tokens import (
    CONNECTIONS_READ,
    CONNECTIONS_WRITE,
    DATA_INGESTION_READ,
    DATA_INGESTION_WRITE,
    JOBS_READ,
    JOBS_WRITE,
    SCHEDULES_READ,
    SCHEDULES_WRITE,
    SYNC_READ,
    SYNC_WRITE,
)

Handler = Callable[[Request, Kbsync], Awaitable[api.ApiReply]]

ANY_METHOD = "*"
JSON_MEDIA_TYPE = "application/json"


async def read_json_body(request: Request) -> Any:
    """The body's JSON value; 415, 413 or 400 (as ApiError) when it cannot be one.

    The size is counted as the body arrives, so a client that declares no length, or a false
    one, still cannot make the server hold more than MAX_BODY_BYTES.
    """
    api.check_body_media_type(request.headers.get("content-type"))
    api.check_declared_length(request.headers.get("content-length"))
    chunks: list[bytes] = []
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            api.check_received_length(received)
            chunks.append(chunk)
    except ClientDisconnect:
        raise api.ApiError(api.error_reply(400, api.BODY_INCOMPLETE)) from None
    return api.parse_json_body(b"".join(chunks))


async def health(_request: Request, kbsync: Kbsync) -> api.ApiReply:
    return api.health(kbsync)


async def visible(request: Request, kbsync: Kbsync) -> tuple[str, ...] | None:
    """The connections the request's token is limited to (None: all)."""
    authorization = request.headers.get("authorization")
    if kbsync.tokens.answers_from_memory(api.bearer_token(authorization)):
        return api.visible_connections(kbsync.tokens, authorization)
    return await run_in_threadpool(api.visible_connections, kbsync.tokens, authorization)


async def start_sync(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    limited = await visible(request, kbsync)
    if channels.is_channel_request(payload):  # seed 003's body; seed 000's names no channel
        return await run_in_threadpool(channels.start_sync, kbsync, payload, limited)
    return await run_in_threadpool(api.start_sync, kbsync, payload, limited)


async def channel_sync_status(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    query = request.query_params
    return await run_in_threadpool(
        channels.sync_status, kbsync, query.get("channel_id"), query.get("job_id"), limited
    )


async def channel_sync_history(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    query = request.query_params
    return await run_in_threadpool(
        channels.sync_history, kbsync, query.get("channel_id"), query.get("limit"), limited
    )


async def cancel_channel_sync(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    limited = await visible(request, kbsync)
    return await run_in_threadpool(channels.cancel_sync, kbsync, payload, limited)


class SharedReads:
    """Concurrent requests for the same thing share one read of it.

    Seed 000's clients poll GET /api/sync; many polling one execution at once would each cost
    a thread and a store read. A request that arrives while a read of the same execution is
    under way waits for that read instead: its answer is as fresh as one read of its own
    (the read started at most one read's duration earlier), at a fraction of the cost.
    """

    def __init__(self) -> None:
        self._under_way: dict[Any, asyncio.Future] = {}

    async def read(self, key, function: Callable[..., api.ApiReply], *args) -> api.ApiReply:
        shared = self._under_way.get(key)
        if shared is None:
            shared = asyncio.ensure_future(run_in_threadpool(function, *args))
            self._under_way[key] = shared
            shared.add_done_callback(lambda _done: self._under_way.pop(key, None))
        # shield: a client that goes away cancels its own wait, not the others' read.
        return await asyncio.shield(shared)


execution_reads = SharedReads()


async def get_sync(request: Request, kbsync: Kbsync) -> api.ApiReply:
    execution_id = request.query_params.get("executionId")
    limited = await visible(request, kbsync)
    wait = api.read_wait(request.query_params.get("wait"))
    since = api.read_since(request.query_params.get("since"))
    if wait is not None:
        return await get_sync_when_changed(kbsync, execution_id, wait, since, limited)
    if limited is not None:
        return await run_in_threadpool(api.get_sync, kbsync, execution_id, limited)
    # Most polls find the execution read moments ago: answered here, with no thread hop.
    answer = api.get_sync_without_reading(kbsync, execution_id)
    if answer is not None:
        return answer
    return await execution_reads.read(execution_id, api.get_sync, kbsync, execution_id)


async def get_sync_when_changed(
    kbsync: Kbsync,
    execution_id: str | None,
    wait: float,
    since: int | None,
    limited: tuple[str, ...] | None,
) -> api.ApiReply:
    """GET /api/sync with `wait`: held until the execution changes (kbsync_api/longpoll.py)."""
    execution_id = api.read_execution_id(execution_id, from_url=True)
    if limited is not None and await run_in_threadpool(
        api.is_outside, kbsync, execution_id, limited
    ):
        return api.error_reply(404, api.EXECUTION_NOT_FOUND)

    async def read(wanted: str):
        kept = kbsync.reads.peek(wanted)
        if kept is not None:
            return kept
        return await execution_reads.read(("execution", wanted), kbsync.reads.get, wanted)

    return await longpoll.get_sync_when_changed(kbsync, execution_id, wait, since, read)


async def stop_sync(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    limited = await visible(request, kbsync)
    return await run_in_threadpool(api.stop_sync, kbsync, payload, limited)


async def sync_history(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    limited = await visible(request, kbsync)
    return await run_in_threadpool(api.sync_history, kbsync, payload, limited)


async def list_connections(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    return await run_in_threadpool(api.list_connections, kbsync, limited)


async def create_connection(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    limited = await visible(request, kbsync)
    return await run_in_threadpool(api.create_connection, kbsync, payload, limited)


async def get_connection(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    connection_id = request.path_params["connection_id"]
    return await run_in_threadpool(api.get_connection, kbsync, connection_id, limited)


async def update_connection(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    limited = await visible(request, kbsync)
    connection_id = request.path_params["connection_id"]
    return await run_in_threadpool(
        api.update_connection, kbsync, connection_id, payload, limited
    )


async def delete_connection(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    connection_id = request.path_params["connection_id"]
    return await run_in_threadpool(api.delete_connection, kbsync, connection_id, limited)


async def test_connection(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    connection_id = request.path_params["connection_id"]
    return await run_in_threadpool(api.test_connection, kbsync, connection_id, limited)


async def list_webhooks(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    connection_id = request.path_params["connection_id"]
    return await run_in_threadpool(api.list_webhooks, kbsync, connection_id, limited)


async def create_webhook(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    limited = await visible(request, kbsync)
    connection_id = request.path_params["connection_id"]
    return await run_in_threadpool(api.create_webhook, kbsync, connection_id, payload, limited)


async def delete_webhook(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    ids = request.path_params["connection_id"], request.path_params["webhook_id"]
    return await run_in_threadpool(api.delete_webhook, kbsync, *ids, limited)


async def test_webhook(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    ids = request.path_params["connection_id"], request.path_params["webhook_id"]
    return await run_in_threadpool(api.test_webhook, kbsync, *ids, limited)


async def webhook_deliveries(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    connection_id = request.path_params["connection_id"]
    return await run_in_threadpool(api.webhook_deliveries, kbsync, connection_id, limited)
async def list_schedules(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    return await run_in_threadpool(schedules_api.list_schedules, kbsync, limited)


async def create_schedule(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    limited = await visible(request, kbsync)
    return await run_in_threadpool(schedules_api.create_schedule, kbsync, payload, limited)


async def get_schedule(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    schedule_id = request.path_params["schedule_id"]
    return await run_in_threadpool(schedules_api.get_schedule, kbsync, schedule_id, limited)


async def update_schedule(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    limited = await visible(request, kbsync)
    schedule_id = request.path_params["schedule_id"]
    return await run_in_threadpool(
        schedules_api.update_schedule, kbsync, schedule_id, payload, limited
    )


async def delete_schedule(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    schedule_id = request.path_params["schedule_id"]
    return await run_in_threadpool(schedules_api.delete_schedule, kbsync, schedule_id, limited)


async def run_schedule_now(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    schedule_id = request.path_params["schedule_id"]
    return await run_in_threadpool(schedules_api.run_schedule_now, kbsync, schedule_id, limited)


async def list_sync_schedules(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    return await run_in_threadpool(schedules_api.list_sync_schedules, kbsync, limited)


async def put_sync_schedule(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    limited = await visible(request, kbsync)
    return await run_in_threadpool(schedules_api.put_sync_schedule, kbsync, payload, limited)


async def create_ingestion_job(request: Request, kbsync: Kbsync) -> api.ApiReply:
    try:
        fields = await ingestion_body.read_job_fields(request)
    except ingestion_api.IngestionRequestError as refused:
        return refused.reply
    limited = await visible(request, kbsync)
    # Reading the records (content-hub's HTML to Markdown: ~3.7 ms an item) and staging them
    # take seconds for a large job: never on the event loop.
    return await run_in_threadpool(ingestion_api.create_job, kbsync, fields, limited)


async def list_ingestion_jobs(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    query = dict(request.query_params)
    return await run_in_threadpool(ingestion_api.list_jobs, kbsync, query, limited)


async def get_ingestion_job(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    job_id = request.path_params["job_id"]
    include_payload = request.query_params.get("includePayload")
    return await run_in_threadpool(ingestion_api.get_job, kbsync, job_id, include_payload, limited)


async def cancel_ingestion_job(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    job_id = request.path_params["job_id"]
    return await run_in_threadpool(ingestion_api.cancel_job, kbsync, job_id, limited)


async def list_ingestion_adapters(_request: Request, _kbsync: Kbsync) -> api.ApiReply:
    return ingestion_api.list_adapters()


async def unknown_ingestion_endpoint(request: Request, _kbsync: Kbsync) -> api.ApiReply:
    return ingestion_api.unknown_path(request.method, request.url.path)


async def create_table_job(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    limited = await visible(request, kbsync)
    # Reads the source's tables and may call ListKnowledgeBases: in the thread pool.
    return await run_in_threadpool(table_jobs_api.create_job, kbsync, payload, limited)


async def list_table_jobs(request: Request, kbsync: Kbsync) -> api.ApiReply:
    limited = await visible(request, kbsync)
    return await run_in_threadpool(table_jobs_api.list_jobs, kbsync, limited)


def table_job_action(action: Callable[..., api.ApiReply]) -> Handler:
    """A handler of /api/jobs/{job_id}[/...]: `action(kbsync, job_id, visible)`."""

    async def handle(request: Request, kbsync: Kbsync) -> api.ApiReply:
        limited = await visible(request, kbsync)
        job_id = request.path_params["job_id"]
        return await run_in_threadpool(action, kbsync, job_id, limited)

    return handle


async def list_sources(_request: Request, kbsync: Kbsync) -> api.ApiReply:
    return await run_in_threadpool(table_jobs_api.list_sources, kbsync)


async def add_sample_rows(request: Request, kbsync: Kbsync) -> api.ApiReply:
    payload = await read_json_body(request)
    return await run_in_threadpool(table_jobs_api.add_sample_rows, kbsync, payload)


async def unknown_table_jobs_endpoint(request: Request, _kbsync: Kbsync) -> api.ApiReply:
    return table_jobs_api.unknown_path(request.method, request.url.path)


async def unknown_endpoint(_request: Request, _kbsync: Kbsync) -> api.ApiReply:
    return api.error_reply(404, api.UNKNOWN_ENDPOINT)


def render(reply: api.ApiReply) -> Response:
    if reply.status == 204:
        return Response(status_code=204, headers=reply.headers)
    if reply.encoded is not None:
        return Response(
            reply.encoded, status_code=reply.status, headers=reply.headers,
            media_type=JSON_MEDIA_TYPE,
        )
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)


class JsonEndpoint:
    """One path's ASGI endpoint: token and the method's scope (`scopes`: the scope each method
    needs, None for any valid token), then method (a JSON 405 naming the allowed ones), then
    the handler for that method.

    An ASGI class rather than a function, because Starlette answers a function route's
    unlisted methods itself, in plain text.
    """

    def __init__(
        self,
        handlers: dict[str, Handler],
        *,
        scopes: dict[str, str | None] | None = None,
        open_to_all: bool = False,
        acts_as_server: bool = False,
        shape_errors: Callable[[str, api.ApiReply], api.ApiReply] | None = None,
    ):
        scopes = dict(scopes or {})
        # A method whose scope was forgotten must not be open to every token.
        undeclared = set(handlers) - set(scopes)
        if undeclared and not open_to_all:
            raise ValueError(f"No scope declared for {sorted(undeclared)}")
        if "GET" in handlers:
            handlers = {**handlers, "HEAD": handlers["GET"]}
            scopes.setdefault("HEAD", scopes.get("GET"))
        self.handlers = handlers
        self.scopes = scopes
        self.allowed = ", ".join(sorted(handlers))
        self.open_to_all = open_to_all
        # Acts with the server's own identity: never without a token, but on the sandbox.
        self.acts_as_server = acts_as_server
        # An API with an error shape of its own (seed 002's) answers every error in it, the
        # token check's and the method check's too: (request path, reply) -> reply.
        self.shape_errors = shape_errors

    async def __call__(self, scope, receive, send) -> None:
        response = await self.serve(Request(scope, receive))
        await response(scope, receive, send)

    async def serve(self, request: Request) -> Response:
        reply = await self.answer(request)
        if self.shape_errors is not None and reply.status >= 400:
            reply = self.shape_errors(request.url.path, reply)
        return render(reply)

    async def answer(self, request: Request) -> api.ApiReply:
        try:
            # Cheap: app.py's lifespan opened the registry before the first request.
            kbsync = get_kbsync()
            if not self.open_to_all:
                denial = await self.authorize(request, kbsync)
                if denial is None and self.acts_as_server:
                    denial = await run_in_threadpool(api.identity_denial, kbsync)
                if denial is not None:
                    return denial
            handler = self.handlers.get(request.method) or self.handlers.get(ANY_METHOD)
            if handler is None:
                message = api.METHOD_NOT_ALLOWED.format(
                    method=request.method, path=request.url.path, allowed=self.allowed
                )
                return api.error_reply(405, message, {"Allow": self.allowed})
            return await handler(request, kbsync)
        except api.ApiError as error:
            return error.reply
        except Exception as error:
            # A bug of ours still answers JSON, and without the traceback.
            doing = f"serving {request.method} {request.url.path}"
            return api.internal_error(doing, error)

    async def authorize(self, request: Request, kbsync: Kbsync) -> api.ApiReply | None:
        authorization = request.headers.get("authorization")
        scope = self.scopes.get(request.method, self.scopes.get(ANY_METHOD))
        # Most requests are answered from memory; a store read goes to the thread pool.
        if kbsync.tokens.answers_from_memory(api.bearer_token(authorization)):
            return api.authorize(kbsync.tokens, authorization, scope)
        return await run_in_threadpool(api.authorize, kbsync.tokens, authorization, scope)


def api_routes() -> list[Route]:
    """The /api routes; any other path under /api answers a JSON 404, not the console's page."""
    return [
        Route("/api/health", JsonEndpoint({"GET": health}, open_to_all=True)),
        Route(
            "/api/sync",
            JsonEndpoint(
                {"GET": get_sync, "POST": start_sync},
                scopes={"GET": SYNC_READ, "POST": SYNC_WRITE},
            ),
        ),
        Route("/api/sync/stop", JsonEndpoint({"POST": stop_sync}, scopes={"POST": SYNC_WRITE})),
        # Seed 003's (kbsync_api/channels.py): channels are connections, so these act with the
        # server's identity.
        Route(
            "/api/sync/status",
            JsonEndpoint(
                {"GET": channel_sync_status}, scopes={"GET": SYNC_READ}, acts_as_server=True
            ),
        ),
        Route(
            "/api/sync/history",
            JsonEndpoint(
                {"GET": channel_sync_history}, scopes={"GET": SYNC_READ}, acts_as_server=True
            ),
        ),
        Route(
            "/api/sync/cancel",
            JsonEndpoint(
                {"POST": cancel_channel_sync}, scopes={"POST": SYNC_WRITE}, acts_as_server=True
            ),
        ),
        Route(
            "/api/sync-history",
            # A read, though a POST: seed 001 sends its credentials in a body.
            JsonEndpoint({"POST": sync_history}, scopes={"POST": SYNC_READ}),
        ),
        Route(
            "/api/connections",
            JsonEndpoint(
                {"GET": list_connections, "POST": create_connection},
                scopes={"GET": CONNECTIONS_READ, "POST": CONNECTIONS_WRITE},
                acts_as_server=True,
            ),
        ),
        Route(
            "/api/connections/{connection_id}",
            JsonEndpoint(
                {"GET": get_connection, "PUT": update_connection, "DELETE": delete_connection},
                scopes={
                    "GET": CONNECTIONS_READ,
                    "PUT": CONNECTIONS_WRITE,
                    "DELETE": CONNECTIONS_WRITE,
                },
                acts_as_server=True,
            ),
        ),
        Route(
            "/api/connections/{connection_id}/test",
            # Reads AWS with the connection's identity: a read.
            JsonEndpoint(
                {"POST": test_connection}, scopes={"POST": CONNECTIONS_READ}, acts_as_server=True
            ),
        ),
        Route(
            "/api/connections/{connection_id}/webhooks",
            JsonEndpoint(
                {"GET": list_webhooks, "POST": create_webhook},
                scopes={"GET": CONNECTIONS_READ, "POST": CONNECTIONS_WRITE},
                acts_as_server=True,
            ),
        ),
        # Before {webhook_id}: "deliveries" is no webhook's id.
        Route(
            "/api/connections/{connection_id}/webhooks/deliveries",
            JsonEndpoint(
                {"GET": webhook_deliveries}, scopes={"GET": CONNECTIONS_READ}, acts_as_server=True
            ),
        ),
        Route(
            "/api/connections/{connection_id}/webhooks/{webhook_id}",
            JsonEndpoint(
                {"DELETE": delete_webhook}, scopes={"DELETE": CONNECTIONS_WRITE},
                acts_as_server=True,
            ),
        ),
        Route(
            "/api/connections/{connection_id}/webhooks/{webhook_id}/test",
            # Posts to the channel with the server's network: a change of the world, a write.
            JsonEndpoint(
                {"POST": test_webhook}, scopes={"POST": CONNECTIONS_WRITE}, acts_as_server=True
            ),
        ),
        Route(
            "/api/schedules",
            JsonEndpoint(
                {"GET": list_schedules, "POST": create_schedule},
                scopes={"GET": SCHEDULES_READ, "POST": SCHEDULES_WRITE},
            ),
        ),
        Route(
            "/api/schedules/{schedule_id}",
            JsonEndpoint(
                {"GET": get_schedule, "PUT": update_schedule, "DELETE": delete_schedule},
                scopes={"GET": SCHEDULES_READ, "PUT": SCHEDULES_WRITE, "DELETE": SCHEDULES_WRITE},
            ),
        ),
        Route(
            "/api/schedules/{schedule_id}/run",
            JsonEndpoint({"POST": run_schedule_now}, scopes={"POST": SCHEDULES_WRITE}),
        ),
        Route(
            "/api/sync/schedules",
            # Seed 003's: one schedule per channel (connection).
            JsonEndpoint(
                {"GET": list_sync_schedules, "PUT": put_sync_schedule},
                scopes={"GET": SCHEDULES_READ, "PUT": SCHEDULES_WRITE},
            ),
        ),
        # Seed 002's (kbsync_api/ingestion.py): every error in the seed's shape. Jobs act with
        # a connection's identity, or the server's.
        Route(
            "/api/v2/data-ingestion/jobs",
            JsonEndpoint(
                {"GET": list_ingestion_jobs, "POST": create_ingestion_job},
                scopes={"GET": DATA_INGESTION_READ, "POST": DATA_INGESTION_WRITE},
                acts_as_server=True,
                shape_errors=ingestion_api.in_seed_shape,
            ),
        ),
        Route(
            "/api/v2/data-ingestion/jobs/{job_id}",
            JsonEndpoint(
                {"GET": get_ingestion_job, "DELETE": cancel_ingestion_job},
                scopes={"GET": DATA_INGESTION_READ, "DELETE": DATA_INGESTION_WRITE},
                acts_as_server=True,
                shape_errors=ingestion_api.in_seed_shape,
            ),
        ),
        Route(
            "/api/v2/data-ingestion/adapters",
            JsonEndpoint(
                {"GET": list_ingestion_adapters},
                scopes={"GET": DATA_INGESTION_READ},
                shape_errors=ingestion_api.in_seed_shape,
            ),
        ),
        Route(
            "/api/v2/data-ingestion/{rest:path}",
            JsonEndpoint(
                {ANY_METHOD: unknown_ingestion_endpoint},
                scopes={ANY_METHOD: None},
                shape_errors=ingestion_api.in_seed_shape,
            ),
        ),
        *table_job_routes(),
        # Any valid token learns that there is nothing here.
        Route("/api", JsonEndpoint({ANY_METHOD: unknown_endpoint}, scopes={ANY_METHOD: None})),
        Route(
            "/api/{rest:path}",
            JsonEndpoint({ANY_METHOD: unknown_endpoint}, scopes={ANY_METHOD: None}),
        ),
    ]


def table_job_routes() -> list[Route]:
    """Seed 004's (kbsync_api/table_jobs.py): every error in the seed's shape. Jobs act with a
    connection's identity or the server's (ListKnowledgeBases resolves a kb_name), and read
    the server's sources: like the ingestion jobs', they need a token on the aws backend."""

    def endpoint(handlers: dict[str, Handler], scopes: dict[str, str | None]) -> JsonEndpoint:
        return JsonEndpoint(
            handlers,
            scopes=scopes,
            acts_as_server=True,
            shape_errors=table_jobs_api.in_seed_shape,
        )

    create = endpoint({"POST": create_table_job}, {"POST": JOBS_WRITE})
    return [
        Route("/jobs/create", create),  # the seed's own path
        Route("/api/jobs/create", create),
        Route("/api/jobs", endpoint({"GET": list_table_jobs}, {"GET": JOBS_READ})),
        Route(
            "/api/jobs/{job_id}",
            endpoint(
                {
                    "GET": table_job_action(table_jobs_api.get_job),
                    "DELETE": table_job_action(table_jobs_api.delete_job),
                },
                {"GET": JOBS_READ, "DELETE": JOBS_WRITE},
            ),
        ),
        *(
            Route(
                f"/api/jobs/{{job_id}}/{name}",
                endpoint({"POST": table_job_action(action)}, {"POST": JOBS_WRITE}),
            )
            for name, action in (
                ("pause", table_jobs_api.pause_job),
                ("resume", table_jobs_api.resume_job),
                ("run", table_jobs_api.run_job),
            )
        ),
        Route(
            "/api/jobs/{rest:path}",
            endpoint({ANY_METHOD: unknown_table_jobs_endpoint}, {ANY_METHOD: None}),
        ),
        Route("/api/sources", endpoint({"GET": list_sources}, {"GET": JOBS_READ})),
        Route("/api/sandbox/orders", endpoint({"POST": add_sample_rows}, {"POST": JOBS_WRITE})),
    ]
