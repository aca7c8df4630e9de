"""The same seed gives the same data set (the same `now`): every generated row but the
ciphertexts (random nonces) and the password hash (a random salt), and the same audit chain."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import models

from medunion.demo.province.build import STAGES, _targets, new_gen
from medunion.demo.province.bulk import Sink
from medunion.demo.province.scale import SCALES

pytestmark = pytest.mark.django_db

SKIP = {"id_number", "phone", "address", "checkin_code", "password"}  # encrypted, or a salted hash


class Collect(Sink):
    """Keeps the rows instead of writing them."""

    def __init__(self) -> None:
        super().__init__(progress=False)
        self.rows: dict[str, list[tuple[Any, ...]]] = {}

    def _write(self, model: type[models.Model]) -> None:
        table, rows = self.tables[model], self.buffers[model]
        self.buffers[model] = []
        keep = [i for i, a in enumerate(table.attnames) if a not in SKIP]
        self.rows.setdefault(table.name, []).extend(tuple(r[i] for i in keep) for r in rows)


def _run(seed: int, now: dt.datetime) -> tuple[dict[str, list[tuple[Any, ...]]], str]:
    sink = Collect()
    gen = new_gen(SCALES["tiny"], seed, _targets(SCALES["tiny"]), sink, now=now)
    for _label, stage in STAGES:
        stage(gen)
    sink.flush()
    return sink.rows, gen.audit.prev


def test_same_seed_same_rows_and_chain(hashers):
    now = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
    rows_a, chain_a = _run(7, now)
    rows_b, chain_b = _run(7, now)
    assert rows_a.keys() == rows_b.keys()
    for table in rows_a:
        assert rows_a[table] == rows_b[table], table
    assert chain_a == chain_b
    rows_c, chain_c = _run(8, now)
    assert rows_c["patients_patient"] != rows_a["patients_patient"]
    assert chain_c != chain_a
