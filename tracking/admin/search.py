"""The consignment search of the support desk (design section 7.5): whatever the customer says
on the phone, the consignment or package reference, the shop's order number, the carrier's
tracking number, the recipient's name, email or postcode, in any case (and the postcode with or
without its spaces).

Every kind is an exact match on an indexed expression (migrations 0009 and 0010: UPPER() of
each column, the postcode also without spaces), never a LIKE '%...%' scan, so a search costs a
few index probes at a million consignments (bench/explain_desk.py prints the plans). The term
is folded by the database's own UPPER() on both sides, so it folds as the index did.
"""

from __future__ import annotations

import re

from django.db.models import F, Func, QuerySet, Value
from django.db.models.functions import Upper

from tracking.models import Consignment, Package, TrackingRecord

# What a reference is, typed with or without its dashes and spaces: EC-ABC-DEF-GHJ, ecabcdefghj.
_REFERENCE = re.compile(r"^(E[CP])-?([A-Z0-9]{3})-?([A-Z0-9]{3})-?([A-Z0-9]{3})$")


class NoSpaces(Func):
    """REPLACE(expression, ' ', ''), with the literals written into the SQL as the index
    consignment_postcode_ci has them: a bound parameter would not match the indexed expression."""

    template = "REPLACE(%(expressions)s, ' ', '')"


def postcode_key(expression):
    return NoSpaces(Upper(expression))


def _reference(term: str) -> tuple[str, str] | None:
    """('EC' or 'EP', the canonical reference) when the term is one."""
    match = _REFERENCE.match(re.sub(r"\s+", "", term).upper())
    if not match:
        return None
    prefix, *parts = match.groups()
    return prefix, "-".join([prefix, *parts])


def matching_ids(term: str) -> QuerySet:
    """The ids of every consignment the term names, by any kind, as one subquery: a UNION of
    index lookups on consignments, packages and legs."""
    words = " ".join(term.split())
    reference = _reference(words)
    if reference and reference[0] == "EC":
        return Consignment.objects.filter(reference=reference[1]).values("id").order_by()
    if reference:
        return Package.objects.filter(reference=reference[1]).values("consignment_id").order_by()
    said = Upper(Value(words))
    consignments = Consignment.objects.order_by()
    by_order = consignments.alias(key=Upper("customer_reference")).filter(key=said)
    by_name = consignments.alias(key=Upper("recipient_name")).filter(key=said)
    by_email = consignments.alias(key=Upper("recipient_email")).filter(key=said)
    by_postcode = consignments.alias(key=postcode_key(F("destination_postcode"))).filter(
        key=postcode_key(Value(words))
    )
    by_number = (
        TrackingRecord.objects.order_by()
        .alias(key=Upper("tracking_number"))
        .filter(key=said)
        .values("consignment_id")
    )
    return by_order.values("id").union(
        by_name.values("id"), by_email.values("id"), by_postcode.values("id"), by_number, all=True
    )


def search_consignments(queryset: QuerySet, term: str) -> QuerySet:
    term = term.strip()
    if not term:
        return queryset
    return queryset.filter(pk__in=matching_ids(term))
