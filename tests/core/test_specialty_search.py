"""Finding a department by what a clinician types: its label in either language, its everyday
name (放射科 for 医学影像科), an abbreviation (B超, ECG)."""

from __future__ import annotations

import pytest
from django.utils import translation

from medunion.network.codes import SPECIALTY_ALIASES, Specialty, specialties_matching


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize(("text", "code"), [
    ("放射", "radiology"), ("放射科", "radiology"), ("医学影像科", "radiology"), ("radiology", "radiology"),
    ("心内", "cardiology"), ("心内科", "cardiology"), ("Cardiology", "cardiology"), ("心血管内科", "cardiology"),
    ("B超", "ultrasound"), ("彩超", "ultrasound"), ("ecg", "electrocardiology"),
    ("耳鼻喉科", "ent"), ("otorhinolaryngology", "ent"), ("妇科", "obstetrics_gynaecology"),
    ("产科", "obstetrics_gynaecology"), ("肿瘤科", "oncology"), ("肺癌", "oncology"), ("肺癌", "respiratory"),
    ("pediatrics", "paediatrics"), ("儿科", "paediatrics"),
])
def test_a_department_is_found_by_its_label_in_either_language_or_its_everyday_name(text, code, language):
    with translation.override(language):
        assert code in specialties_matching(text)


def test_a_search_names_only_what_it_says():
    with translation.override("zh-hans"):
        assert specialties_matching("放射科") == ["radiology"]
        assert specialties_matching("心内") == ["cardiology"]
        assert specialties_matching("") == [] and specialties_matching("   ") == []
        assert specialties_matching("没有这个科") == [] and specialties_matching("xyzzy") == []
        # a Latin abbreviation inside a longer word is chance, not a name: GI in "imaging"
        assert specialties_matching("imaging") == ["radiology"] and specialties_matching("cancer") == ["oncology"]
        # a text that is a name or an alias exactly means that one (not also gastroENTerology, praCTice)
        assert specialties_matching("ENT") == ["ent"] and specialties_matching("ct") == ["radiology"]
        assert set(specialties_matching("心")) == {"cardiology", "psychiatry", "electrocardiology"}
        # Chinese labels nest: 内科 is a department and part of five others' names
        assert {"internal_medicine", "cardiology", "nephrology"} <= set(specialties_matching("内科"))


def test_every_alias_belongs_to_a_specialty_and_finds_it():
    assert set(SPECIALTY_ALIASES) <= set(Specialty.values)
    for code, aliases in SPECIALTY_ALIASES.items():
        for alias in aliases:
            assert code in specialties_matching(alias), (code, alias)
