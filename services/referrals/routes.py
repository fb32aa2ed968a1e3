"""Read-only HTTP: a customer's audit history (issue 4: "each customer has a readable audit history").

``GET /customers/{csid}/history`` lists every event the referrals service recorded for the
customer, refusals included, oldest first, with the acting officer's id; plus where the customer
stands in PS and their open contacts, open intray items and outstanding issues (CMA intake).
Served on the service's API port (``api_port``) to any officer with a verified token (kit/api.py);
``400 INVALID_CSID`` unless the CSID is 6-12 digits, ``404 UNKNOWN_CUSTOMER``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kit.api import ApiError, csid_of, endpoint
from kit.identity import Identity
from services.referrals.store import ReferralsStore


def history_routes(store: ReferralsStore) -> list[BaseRoute]:
    async def history(request: Request, identity: Identity) -> Response:
        # Issue 16: any verified officer may read a customer's history.
        csid = csid_of(request)
        file = await store.customer(csid)
        if file is None:
            raise ApiError("UNKNOWN_CUSTOMER", "No such customer.", 404)
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

    return [Route("/customers/{csid}/history", endpoint(history), methods=["GET"])]
