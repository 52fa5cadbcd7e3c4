from __future__ import annotations

from functions.products.model import Line, Reservation, ReservedLine, like_pattern, search_text


def test_search_text_folds_case_once_for_both_databases() -> None:
    assert search_text("Straße MUG", "Big") == "strasse mug\nbig"


def test_like_patterns_treat_wildcards_literally() -> None:
    assert like_pattern("100%_off\\") == "%100\\%\\_off\\\\%"


def test_a_reservation_recognises_the_same_request_in_any_order() -> None:
    reservation = Reservation(
        "o1",
        "held",
        0,
        (ReservedLine("a", 1, "A", 1, "EUR"), ReservedLine("b", 2, "B", 1, "EUR")),
    )
    assert reservation.same_request([Line("b", 2), Line("a", 1)])
    assert not reservation.same_request([Line("a", 1)])
    assert not reservation.same_request([Line("a", 2), Line("b", 2)])
