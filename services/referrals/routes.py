"""Read-only HTTP: a customer's audit history (issue 4: "each customer has a readable audit history").

``GET /customers/{csid}/history`` lists every event the referrals service recorded for the
customer, refusals included, oldest first, with the acting officer's id; plus where the customer
stands in PS and their open contacts, open intray items and outstanding issues (CMA intake).
Served on the service's HTTP port, bound to 127.0.0.1 unless configured otherwise.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.referrals.store import ReferralsStore

CSID_PATTERN = re.compile(r"^[0-9]{6,12}$")


def history_routes(store: ReferralsStore) -> list[BaseRoute]:
    async def history(request: Request) -> Response:
        csid = request.path_params["csid"]
        if not CSID_PATTERN.match(csid):
            return JSONResponse({"error": "not a CSID"}, status_code=400)
        file = await store.customer(csid)
        if file is None:
            return JSONResponse({"error": "unknown customer"}, status_code=404)
        referral = file.referral
        return JSONResponse(
            {
                "csid": csid,
                "in_ps": file.in_ps,
                "referral_id": str(referral.referral_id) if referral else None,
                "stage": referral.stage.value if referral else None,
                "ps_officer_id": file.ps_officer_id,
                "locked": file.ownership.locked,
                "open_contacts": [str(c.contact_id) for c in file.intake.open_contacts()],
                "open_intray_items": [str(i.intray_item_id) for i in file.intake.open_intray_items()],
                "outstanding_issues": [str(i.issue_id) for i in file.intake.outstanding_issues()],
                "history": [entry.model_dump(mode="json") for entry in file.history],
            }
        )

    return [Route("/customers/{csid}/history", history, methods=["GET"])]
