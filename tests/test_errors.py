"""The error tree: every error knows its HTTP status and its built-in kin."""

from __future__ import annotations

import pytest

from stationmap import errors


@pytest.mark.parametrize("cls, status, builtin", [
    (errors.BadRequestError, 400, ValueError),
    (errors.StationDataError, 422, ValueError),
    (errors.ImportMappingError, 422, ValueError),
    (errors.DatumError, 400, ValueError),
    (errors.CRSMismatchError, 422, ValueError),
    (errors.BoundaryError, 422, ValueError),
    (errors.OpeningHoursError, 422, ValueError),
    (errors.EmptyInputError, 422, ValueError),
    (errors.MissingExtraError, 501, ImportError),
    (errors.StationNotFoundError, 404, KeyError),
])
def test_error_tree(cls, status, builtin):
    err = cls("message")
    assert isinstance(err, errors.StationMapError) and isinstance(err, builtin)
    assert cls.http_status == status


def test_not_found_message_is_not_quoted():
    assert str(errors.StationNotFoundError("Station 'x' not found.")) == "Station 'x' not found."
