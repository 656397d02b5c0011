"""A :class:`~mockserver.domain.lifecycle.Job` (and a webhook ``Delivery``) as the bytes a
store keeps, and back (:class:`DeliveryCodec`: see its text).

The store treats a job as an opaque document (``interface.py``); this is the
document. Compact JSON (``wirejson``: orjson, the standard library where
orjson cannot write a value), one object with short keys, fields at their
default left out, so a fresh job is about as small as its input:

``{"v":1,"id":..,"p":provider,"m":model_id,"k":key,"in":input,"c":created_at,
"pl":{plan},"s":state,...}``

What needs care:

* ``Job.__post_init__`` sets ``updated_at`` and ``queued_since`` to
  ``created_at``; decoding sets every field after construction, so a job that
  moved keeps its own times.
* ``plan`` is a frozen :class:`Plan` (``outcome`` a :class:`State`);
  ``webhook`` a :class:`WebhookTarget`; ``effects`` empty decodes to the
  shared :data:`NO_EFFECTS`; ``outputs`` empty decodes to the shared ``()``
  (adapters write a list when a job succeeds; a list stays a list).
* ``provider_fields`` is each provider's own small frozen dataclass. The codec
  does not know the providers (``mockserver.store`` sits below them): it is
  built with a mapping *provider name -> dataclass* (the providers layer
  builds it from every kit's ``job_fields``:
  ``registry.job_field_types()``). The dataclass is written as its fields;
  a job whose provider has no registered type and carries provider fields is
  refused (:class:`CodecError`), never pickled or guessed.
* ``price`` is the admission's shared ``{amount, currency, label}`` record
  (amount a decimal string, so exact); decoded jobs each get their own dict.

Every value must be JSON: a client's input already is (``wirejson.loads``
read it), the rest are strings, numbers, booleans and None. A value JSON
cannot hold raises :class:`CodecError` naming the job.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

import orjson

from mockserver import wirejson
from mockserver.domain.lifecycle import Job, Plan, State, WebhookTarget
from mockserver.domain.webhooks import Attempt, Delivery, DeliveryState, Outcome, RetryPolicy
from mockserver.store.interface import NewDelivery, StoredDelivery

__all__ = ["CODEC_VERSION", "DELIVERY_CODEC_VERSION", "CodecError", "DeliveryCodec", "JobCodec"]

#: Written as ``"v"`` in every document; a reader refuses a version it does not know.
CODEC_VERSION = 1

#: How every job document orjson could write begins; only those are read back
#: with orjson directly. A document holding an integer beyond 64 bits (a
#: client's input may) is written by the standard library with ``"L":1``
#: after the version and read by ``wirejson.loads`` (exact big integers). The
#: check saves ``wirejson``'s scan for long digit runs: ~8 of ~15 µs a decode.
_FAST_PREFIX = b'{"v":%d,"id":' % CODEC_VERSION

#: As ``wirejson``: a dataclass or datetime in a job is not JSON (refused), never
#: silently turned into an object or a string by orjson.
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME

#: Plan fields at their defaults are left out (``outcome`` as its state word).
_PLAN_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Plan)
                  if f.default is not dataclasses.MISSING}

#: Optional job fields: (attribute, document key, default). Written only when
#: the job's value differs from the default.
_OPTIONAL: tuple[tuple[str, str, Any], ...] = (
    ("started_at", "sa", None),
    ("finished_at", "fa", None),
    ("polls", "n", 0),
    ("failure", "f", None),
    ("cost", "co", None),
    ("scenario", "sc", None),
    ("held", "h", False),
    ("base_url", "b", ""),
    ("media_base_url", "mb", ""),
    ("admitted", "a", 0),
    ("size", "z", 0),
)


class CodecError(ValueError):
    """A job that cannot become a document, or a document that is not a job."""


class JobCodec:
    """``encode(job) -> bytes`` and ``decode(bytes) -> Job`` for one mock's providers.

    ``provider_fields`` maps a provider name to the dataclass its adapter keeps
    in :attr:`Job.provider_fields` (providers without one are simply absent).
    """

    __slots__ = ("_names", "_types")

    def __init__(self, provider_fields: Mapping[str, type] | None = None) -> None:
        types = dict(provider_fields or {})
        #: Each type's field names, read once.
        self._names: dict[type, tuple[str, ...]] = {}
        for name, cls in types.items():
            if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
                raise TypeError(f"provider {name!r}: job fields must be a dataclass, not {cls!r}")
            self._names[cls] = tuple(f.name for f in dataclasses.fields(cls))
        self._types = types

    # --- encode ----------------------------------------------------------------------
    def encode(self, job: Job) -> bytes:
        """The job's document (compact JSON bytes)."""
        doc: dict[str, Any] = {
            "v": CODEC_VERSION,
            "id": job.id,
            "p": job.provider,
            "m": job.model_id,
            "k": job.key,
            "in": job.input,
            "c": job.created_at,
            "pl": _plan_doc(job.plan),
        }
        if job.state is not State.QUEUED:
            doc["s"] = job.state.value
        if job.updated_at != job.created_at:
            doc["u"] = job.updated_at
        if job.queued_since != job.created_at:
            doc["q"] = job.queued_since
        for attribute, key, default in _OPTIONAL:
            value = getattr(job, attribute)
            if value != default or type(value) is not type(default):
                doc[key] = value
        if job.outputs:
            doc["o"] = list(job.outputs)
        if job.webhook is not None:
            doc["w"] = [job.webhook.url, job.webhook.secret]
        if job.effects:
            doc["e"] = dict(job.effects)
        if job.price is not None:
            doc["pr"] = dict(job.price)
        if job.provider_fields is not None:
            doc["x"] = self._fields_doc(job)
        try:
            return orjson.dumps(doc, option=_PASSTHROUGH)
        except TypeError:  # orjson.JSONEncodeError too: a huge integer, or not JSON
            pass
        try:
            return wirejson.dumps({"v": CODEC_VERSION, "L": 1, **doc})
        except (TypeError, ValueError) as error:
            raise CodecError(f"job {job.id}: not JSON: {error}") from None

    def _fields_doc(self, job: Job) -> dict[str, Any]:
        cls = self._types.get(job.provider)
        value: Any = job.provider_fields
        if cls is None or type(value) is not cls:
            raise CodecError(
                f"job {job.id}: provider {job.provider!r} registered "
                f"{cls.__name__ if cls else 'no job fields type'}, "
                f"the job carries a {type(value).__name__}"
            )
        return {name: getattr(value, name) for name in self._names[cls]}

    # --- decode ----------------------------------------------------------------------
    def decode(self, data: bytes | str) -> Job:
        """The job in ``data`` (a document :meth:`encode` wrote)."""
        try:
            if isinstance(data, bytes) and data.startswith(_FAST_PREFIX):
                doc = orjson.loads(data)
            else:
                doc = wirejson.loads(data)
        except ValueError as error:
            raise CodecError(f"not a job document: {error}") from None
        if not isinstance(doc, dict) or doc.get("v") != CODEC_VERSION:
            version = doc.get("v") if isinstance(doc, dict) else None
            raise CodecError(f"not a job document of version {CODEC_VERSION} (v={version!r})")
        try:
            return self._job(doc)
        except (KeyError, TypeError, ValueError) as error:
            raise CodecError(f"job {doc.get('id')!r}: unreadable document: {error!r}") from None

    def _job(self, doc: dict[str, Any]) -> Job:
        created = doc["c"]
        job = Job(
            id=doc["id"],
            provider=doc["p"],
            model_id=doc["m"],
            key=doc["k"],
            input=doc["in"],
            created_at=created,
            plan=_plan(doc["pl"]),
        )
        # After construction: __post_init__ set both to created_at.
        job.updated_at = doc.get("u", created)
        job.queued_since = doc.get("q", created)
        if "s" in doc:
            job.state = State(doc["s"])
        for attribute, key, _default in _OPTIONAL:
            if key in doc:
                setattr(job, attribute, doc[key])
        if "o" in doc:
            job.outputs = doc["o"]
        if "w" in doc:
            url, secret = doc["w"]
            job.webhook = WebhookTarget(url=url, secret=secret)
        if "e" in doc:
            job.effects = doc["e"]
        if "pr" in doc:
            job.price = doc["pr"]
        if "x" in doc:
            cls = self._types.get(job.provider)
            if cls is None:
                raise ValueError(f"provider {job.provider!r} has no registered job fields type")
            job.provider_fields = cls(**doc["x"])
        return job


def _plan_doc(plan: Plan) -> dict[str, Any]:
    doc: dict[str, Any] = {"qs": plan.queue_seconds, "rs": plan.run_seconds}
    for name, default in _PLAN_DEFAULTS.items():
        value = getattr(plan, name)
        if value != default:
            doc[name] = value.value if isinstance(value, State) else value
    return doc


def _plan(doc: Mapping[str, Any]) -> Plan:
    extra = {name: doc[name] for name in _PLAN_DEFAULTS if name in doc}
    if "outcome" in extra:
        extra["outcome"] = State(extra["outcome"])
    return Plan(queue_seconds=doc["qs"], run_seconds=doc["rs"], **extra)


# --- deliveries ------------------------------------------------------------------------

#: Written as ``"v"`` in every delivery and attempt document.
DELIVERY_CODEC_VERSION = 1


def _callable_name(function: Callable[..., Any]) -> str:
    return f"{function.__module__}:{function.__qualname__}"


class DeliveryCodec:
    """A :class:`Delivery` as the store keeps it: a document, its body, its attempts.

    The Redis layout keeps a delivery's ``body`` and ``state`` beside its
    document and its attempts in a list of their own (``record_attempt``
    appends one), so :meth:`encode` returns ``(doc, body)`` without state or
    attempts, :meth:`encode_attempt` writes one attempt, and :meth:`decode`
    takes the state and attempt documents the store kept.

    The ``signer`` is a callable: it is written as the name of a function and
    its bound arguments (a :func:`functools.partial` whose arguments are
    strings, bytes, numbers or None; the delivery's own body is written as a
    reference to it), and read back only when that function is in
    ``signers`` — the functions the provider kits declare
    (``registry.webhook_signers()``). A document never makes the mock import
    or call anything else; an unknown signer is a :class:`CodecError`.
    """

    __slots__ = ("_signers",)

    def __init__(self, signers: Iterable[Callable[..., Any]] = ()) -> None:
        self._signers = {_callable_name(function): function for function in signers}

    # --- encode ----------------------------------------------------------------------
    def encode(self, delivery: Delivery) -> tuple[bytes, bytes]:
        """``(document, body)`` of ``delivery`` (state and attempts are the store's)."""
        try:
            return wirejson.dumps(self._doc(delivery)), delivery.body
        except (TypeError, ValueError) as error:
            raise CodecError(f"delivery {delivery.id}: not JSON: {error}") from None

    def _doc(self, delivery: Delivery) -> dict[str, Any]:
        policy = delivery.policy
        doc: dict[str, Any] = {
            "v": DELIVERY_CODEC_VERSION,
            "id": delivery.id,
            "j": delivery.job_id,
            "p": delivery.provider,
            "u": delivery.url,
            "d": delivery.due,
            "po": [policy.attempts, list(policy.delays_seconds), policy.timeout_seconds,
                   policy.min_delay_seconds],
        }
        if delivery.kind != "final":
            doc["k"] = delivery.kind
        if delivery.headers:
            doc["h"] = delivery.headers
        if delivery.effects:
            doc["e"] = sorted(delivery.effects)
        if delivery.signer is not None:
            doc["s"] = self._signer_doc(delivery)
        if delivery.then is not None:
            then = delivery.then
            doc["t"] = {**self._doc(then), "b": _bytes_doc(then.body),
                        "st": then.state.value,
                        "a": [_attempt_doc(a) for a in then.attempts]}
        for attribute, key in (("dropped", "dr"), ("resend_of", "ro"), ("resent_as", "ra")):
            value = getattr(delivery, attribute)
            if value is not None:
                doc[key] = value
        return doc

    def _signer_doc(self, delivery: Delivery) -> list[Any]:
        signer = delivery.signer
        function = getattr(signer, "func", None)
        if not isinstance(signer, partial) or function is None or signer.keywords:
            raise CodecError(f"delivery {delivery.id}: its signer is not a partial of a "
                             f"declared signing function: {signer!r}")
        name = _callable_name(function)
        if self._signers.get(name) is not function:
            raise CodecError(f"delivery {delivery.id}: signer {name} is not declared by a kit")
        args = [{"$body": 1} if arg is delivery.body or (isinstance(arg, bytes)
                                                          and arg == delivery.body)
                else _bytes_doc(arg) if isinstance(arg, bytes) else arg
                for arg in signer.args]
        return [name, args]

    def new_delivery(self, delivery: Delivery) -> NewDelivery:
        """What ``OutboxStore.enqueue`` takes for ``delivery``."""
        doc, body = self.encode(delivery)
        return NewDelivery(delivery.id, doc, body, delivery.due)

    def encode_attempt(self, attempt: Attempt) -> bytes:
        """One attempt's document (the store appends it to the delivery's list)."""
        return wirejson.dumps(_attempt_doc(attempt))

    # --- decode ----------------------------------------------------------------------
    def decode(
        self,
        doc: bytes | str,
        body: bytes,
        state: str = DeliveryState.PENDING.value,
        attempts: Iterable[bytes | str] = (),
    ) -> Delivery:
        """The delivery in ``doc`` with ``body``, its ``state`` and attempt documents."""
        data = _load(doc, DELIVERY_CODEC_VERSION, "delivery")
        try:
            return self._delivery(data, body, state,
                                  [_attempt(_load(a, DELIVERY_CODEC_VERSION, "attempt"))
                                   for a in attempts])
        except (KeyError, TypeError, ValueError) as error:
            raise CodecError(
                f"delivery {data.get('id')!r}: unreadable document: {error!r}") from None

    def decode_stored(self, stored: StoredDelivery) -> Delivery:
        """The delivery as the store has it now: its state, due time (a retry
        moves it), dropped reason and attempts are the store's, not the
        document's (written once, at enqueue)."""
        delivery = self.decode(stored.doc, stored.body, stored.state, stored.attempts)
        delivery.due = stored.due
        delivery.dropped = stored.dropped or delivery.dropped
        delivery.resent_as = stored.resent_as or delivery.resent_as
        return delivery

    def _delivery(self, doc: dict[str, Any], body: bytes, state: str,
                  attempts: list[Attempt]) -> Delivery:
        count, delays, timeout, least = doc["po"]
        delivery = Delivery(
            id=doc["id"], job_id=doc["j"], provider=doc["p"], url=doc["u"], body=body,
            policy=RetryPolicy(count, tuple(delays), timeout, least), due=doc["d"],
            kind=doc.get("k", "final"), headers=doc.get("h", {}),
            state=DeliveryState(state), attempts=attempts,
            effects=frozenset(doc.get("e", ())),
            dropped=doc.get("dr"), resend_of=doc.get("ro"), resent_as=doc.get("ra"),
        )
        if "s" in doc:
            delivery.signer = self._signer(doc["s"], body)
        if "t" in doc:
            then = doc["t"]
            delivery.then = self._delivery(
                then, _bytes(then["b"]), then["st"], [_attempt(a) for a in then["a"]])
        return delivery

    def _signer(self, doc: list[Any], body: bytes) -> Callable[[int], dict[str, str]]:
        name, args = doc
        function = self._signers.get(name)
        if function is None:
            raise ValueError(f"signer {name} is not declared by a kit")
        values = [body if isinstance(arg, dict) and "$body" in arg
                  else _bytes(arg) if isinstance(arg, dict) else arg for arg in args]
        return partial(function, *values)

    def decode_attempt(self, doc: bytes | str) -> Attempt:
        """One attempt :meth:`encode_attempt` wrote."""
        data = _load(doc, DELIVERY_CODEC_VERSION, "attempt")
        try:
            return _attempt(data)
        except (KeyError, TypeError, ValueError) as error:
            raise CodecError(f"unreadable attempt document: {error!r}") from None


def _load(data: bytes | str, version: int, what: str) -> dict[str, Any]:
    try:
        doc = wirejson.loads(data)
    except ValueError as error:
        raise CodecError(f"not a {what} document: {error}") from None
    if not isinstance(doc, dict) or doc.get("v") != version:
        found = doc.get("v") if isinstance(doc, dict) else None
        raise CodecError(f"not a {what} document of version {version} (v={found!r})")
    return doc


def _bytes_doc(value: bytes) -> dict[str, str]:
    return {"$b64": base64.b64encode(value).decode("ascii")}


def _bytes(doc: dict[str, str]) -> bytes:
    return base64.b64decode(doc["$b64"], validate=True)


_ATTEMPT_OPTIONAL = (("status_code", "c"), ("error", "e"), ("wall", "w"), ("signed_at", "s"))


def _attempt_doc(attempt: Attempt) -> dict[str, Any]:
    doc: dict[str, Any] = {"v": DELIVERY_CODEC_VERSION, "id": attempt.delivery_id,
                           "n": attempt.number, "at": attempt.at,
                           "o": attempt.outcome.value, "ms": attempt.duration_ms}
    for attribute, key in _ATTEMPT_OPTIONAL:
        value = getattr(attempt, attribute)
        if value is not None:
            doc[key] = value
    return doc


def _attempt(doc: dict[str, Any]) -> Attempt:
    return Attempt(delivery_id=doc["id"], number=doc["n"], at=doc["at"],
                   outcome=Outcome(doc["o"]), duration_ms=doc["ms"],
                   **{attribute: doc.get(key) for attribute, key in _ATTEMPT_OPTIONAL})
