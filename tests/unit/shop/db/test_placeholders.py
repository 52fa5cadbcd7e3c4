from __future__ import annotations

from shop.db import placeholders


def test_an_in_list_numbers_its_markers_from_where_it_starts() -> None:
    assert placeholders.listed(3) == "$1, $2, $3"
    assert placeholders.listed(2, start=4) == "$4, $5"


def test_multi_row_values_number_every_parameter_once_in_order() -> None:
    assert placeholders.rows(2, 3) == "($1, $2), ($3, $4), ($5, $6)"
    assert placeholders.rows(1, 1) == "($1)"
