"""Every column of every table, and every field of the event log, is classified for privacy.

A new column fails here until `accounts/personal_data.py` says whether it is personal and
what a deletion does with it.
"""

from __future__ import annotations

from livecart.accounts.personal_data import (
    COLUMNS,
    EVENT_FIELDS,
    NOT_EXPORTED,
    OWNERS,
    PERSONAL,
    Handling,
    exported_columns,
    handling,
)
from livecart.events.schemas import EVENT_ARROW_SCHEMA
from livecart.tables import metadata


def test_every_column_of_every_table_is_classified() -> None:
    missing = [
        f"{table.name}.{column.name}"
        for table in metadata().sorted_tables
        for column in table.columns
        if handling(table.name, column.name) is None
    ]
    assert missing == [], f"classify these columns in accounts/personal_data.py: {missing}"


def test_the_registry_names_nothing_that_does_not_exist() -> None:
    tables = metadata().tables
    stale = [
        f"{name}.{column}"
        for name, columns in COLUMNS.items()
        for column in columns
        if name not in tables or column not in tables[name].columns
    ]
    assert stale == []
    assert set(OWNERS) <= set(tables)
    assert all(key[1] in COLUMNS[key[0]] for key in NOT_EXPORTED)


def test_tables_with_personal_columns_say_whose_rows_they_are() -> None:
    personal = {name for name, cols in COLUMNS.items() if set(cols.values()) & PERSONAL}
    assert personal == set(OWNERS)
    for name in OWNERS:
        assert ":user_id" in OWNERS[name]
        assert exported_columns(name), name


def test_a_column_pointing_at_a_user_is_never_called_not_personal() -> None:
    for table in metadata().sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "users" for fk in column.foreign_keys):
                assert handling(table.name, column.name) != Handling.not_personal, (
                    f"{table.name}.{column.name} names a user"
                )


def test_every_event_field_is_classified() -> None:
    assert set(EVENT_FIELDS) == set(EVENT_ARROW_SCHEMA.names)
    assert EVENT_FIELDS["text"] == Handling.erase
