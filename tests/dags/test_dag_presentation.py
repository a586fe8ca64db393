"""What the UI shows of each DAG: a one-line description in the DAG list, and a trigger form that marks
only the fields a run cannot do without as required.

Airflow 3.3's trigger form marks a param required unless its schema ``type`` is a list that includes
``"null"`` (``isRequired`` in the UI's FlexibleForm: ``!!schema.type && (!Array.isArray(schema.type) ||
!schema.type.includes("null"))``) and then refuses to submit it empty. A param whose default is empty
(``[]``, ``None``, ``""``) is optional: "leave empty to ..." must be possible from the form.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def serialized_dags():
    """Every DAG as the API server sees it (serialized, then deserialized)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return {dag_id: _plain(DagSerialization.to_dict(dag)) for dag_id, dag in bag.dags.items()}


def _plain(value):
    """A serialized value without the serializer's ``{"__var": ..., "__type": ...}`` wrappers."""
    if isinstance(value, dict):
        if "__var" in value:
            return _plain(value["__var"])
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _ui_required(schema: dict) -> bool:
    """The UI's rule (see the module docstring)."""
    kind = schema.get("type")
    return bool(kind) and (not isinstance(kind, list) or "null" not in kind)


def test_every_dag_has_a_one_line_description(serialized_dags):
    for dag_id, data in serialized_dags.items():
        description = data["dag"].get("description")
        assert description, f"{dag_id} has no description (shown in the DAG list)"
        assert "\n" not in description and len(description) <= 160, (dag_id, description)


def test_optional_params_are_not_required_in_the_trigger_form(serialized_dags):
    checked = 0
    for dag_id, data in serialized_dags.items():
        for name, param in data["dag"]["params"]:
            value = _plain(param)
            default, schema = value.get("default"), value.get("schema", {})
            if default in ([], None, ""):
                checked += 1
                assert not _ui_required(schema), f"{dag_id}: param {name!r} (empty by default) shows as required"
            else:
                # A param that always has a value stays required (the form may not send it empty).
                assert _ui_required(schema) or "enum" in schema, (dag_id, name, schema)
    assert checked >= 4  # opportunity_ids and the three nightly flows' netsuite_ids


@pytest.mark.parametrize(
    ("params_factory", "name", "bad"),
    [
        ("opportunity_params", "opportunity_ids", ["not an id"]),
        ("netsuite_source_params", "netsuite_ids", [0]),
    ],
)
def test_optional_params_still_validate_what_is_given(params_factory, name, bad):
    """Allowing "empty" (null) does not weaken the checks of a value that is given."""
    from airflow.sdk import ParamsDict

    from crsync.runtime import params as module

    factory = getattr(module, params_factory)
    params = factory("contract") if params_factory == "netsuite_source_params" else factory()
    ParamsDict(params).validate()
    for empty in ([], None):
        assert params[name].resolve(value=empty) == empty
    with pytest.raises(Exception, match="does not match|is less than|not valid|Invalid"):
        params[name].resolve(value=bad)
