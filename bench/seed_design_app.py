"""The yardstick for bench/bench_api.py: seed 000's own design on kbsync's HTTP stack.

Seed 000 keeps executions in an in-memory map and answers GET /api/sync from it. This entry
script does exactly that, on what kbsync runs on (`streamlit run` serving an st.App, uvicorn
with httptools and uvloop, a Starlette route): the difference between the two figures is what
kbsync's persistence, leases and replicas cost a polling client. Not part of kbsync.

    streamlit run bench/seed_design_app.py     (bench_api.py starts it by itself)
"""

import streamlit as st
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# One execution as seed 000 shows it once it has ended: the shape kbsync answers too.
EXECUTIONS = {
    "seed-execution": {
        "id": "seed-execution",
        "status": "COMPLETADO",
        "logs": [
            "[30/11/2026, 10:00:00] Iniciando tarea de sincronización en Bedrock Knowledge "
            "Base...",
            "[30/11/2026, 10:00:01] Ingestion Job iniciado: ABCDEFGHIJ",
            *(f"[30/11/2026, 10:00:{n:02d}] Estado actual: IN_PROGRESS" for n in range(2, 9)),
            "[30/11/2026, 10:00:41] Sincronización completada correctamente.",
        ],
        "startedAt": "2026-11-30T10:00:00.000Z",
        "finishedAt": "2026-11-30T10:00:41.000Z",
    }
}


async def get_sync(request: Request) -> JSONResponse:
    execution = EXECUTIONS.get(request.query_params.get("executionId", ""))
    if execution is None:
        return JSONResponse({"error": "No se encontró la ejecución solicitada."}, 404)
    return JSONResponse(execution)


app = st.App("seed_design_app.py", routes=[Route("/api/sync", get_sync)])

if __name__ == "__main__":
    st.write("The seed design's yardstick for bench/bench_api.py.")
