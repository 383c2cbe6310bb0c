"""The agents' REST endpoints: login and logout (bearer tokens), the triage queue, a conversation with its
handoff summary, and what an agent does (reply, resolve, correct a label, through the agent desk)."""
from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials

from bot.assist.summary import handoff_summary
from bot.conversation.state import Status
from bot.conversation.triage import order_queue
from bot.serving.api_deps import Serving, address, agent, bearer, serving
from bot.serving.api_models import LabelIn, LoginIn, TextIn, conversation_json, message_json
from bot.serving.login import checked_login
from bot.store.database import MAX_ID

MAX_QUEUE_PAGE = 200
router = APIRouter(prefix="/api")


@router.post("/login", summary="Agent login: returns a bearer token for the agent endpoints",
          responses={429: {"description": "too many attempts for this name or from this address"}})
def login(body: LoginIn, request: Request, state: Serving = Depends(serving)) -> dict:
    found, token = checked_login(state.helpline().store, state.limits, body.name, body.password, address(request))
    return {"token": token, "agent": found.name}


@router.post("/logout", summary="End the session of the bearer token")
def logout(credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
           state: Serving = Depends(serving)) -> dict:
    ended = state.helpline().store.logout(credentials.credentials if credentials else None)
    return {"logged_out": ended}


@router.get("/conversations", summary="The triage queue: open conversations, most urgent first (paged)")
def queue(limit: int = Query(50, ge=1, le=MAX_QUEUE_PAGE), offset: int = Query(0, ge=0, le=MAX_ID),
          _agent=Depends(agent), state: Serving = Depends(serving)) -> list[dict]:
    now = dt.datetime.now(dt.UTC)
    ranked = order_queue(state.helpline().store.open_conversations(), now)[offset:offset + limit]
    return [conversation_json(c, score, reason) for c, score, reason in ranked]


@router.get("/conversations/{conversation_id}",
         summary="A conversation with every message and its prediction, and the handoff summary")
def conversation(conversation_id: str, _agent=Depends(agent), state: Serving = Depends(serving)) -> dict:
    found = state.helpline().store.conversation(conversation_id)
    if found is None:
        raise HTTPException(404, f"no conversation {conversation_id}")
    summary = handoff_summary(found.messages, (found.state or {}).get("handoff_reason"))
    return {**conversation_json(found), "summary": summary, "messages": [message_json(m) for m in found.messages]}


@router.post("/conversations/{conversation_id}/reply", summary="Reply as an agent (the customer sees it live)")
def reply(conversation_id: str, body: TextIn, who=Depends(agent), state: Serving = Depends(serving)) -> dict:
    try:
        message = state.helpline().desk.reply(conversation_id, body.text, who.id if who else None)
    except KeyError:
        raise HTTPException(404, f"no conversation {conversation_id}") from None
    return message_json(message)


@router.post("/conversations/{conversation_id}/resolve", summary="Close a conversation")
def resolve(conversation_id: str, _agent=Depends(agent), state: Serving = Depends(serving)) -> dict:
    try:
        state.helpline().desk.resolve(conversation_id)
    except KeyError:
        raise HTTPException(404, f"no conversation {conversation_id}") from None
    return {"id": conversation_id, "status": Status.RESOLVED.value}


@router.post("/messages/{message_id}/label", summary="Correct a customer message's intent (kept for retraining)")
def label(body: LabelIn, message_id: int = PathParam(ge=1, le=MAX_ID), who=Depends(agent),
          state: Serving = Depends(serving)) -> dict:
    try:   # an unknown intent is a ValueError: 400 with its sentence
        correction = state.helpline().desk.correct_label(message_id, body.intent, who.id if who else None)
    except KeyError:
        raise HTTPException(404, f"no customer message {message_id}") from None
    return {"message_id": message_id, "intent": correction.intent, "previous_intent": correction.previous_intent}
