"""Synthetic Chinese personal names: a weighted surname and a one- or two-character given name
drawn from characters typical of the person's sex and generation."""

from __future__ import annotations

import random

# The commonest surnames with their approximate share (per cent) of the population.
SURNAMES: list[tuple[str, float]] = [
    ("王", 7.1), ("李", 7.0), ("张", 6.8), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1), ("赵", 2.3), ("黄", 2.2),
    ("周", 1.7), ("吴", 1.6), ("徐", 1.3), ("孙", 1.3), ("胡", 1.1), ("朱", 1.1), ("高", 1.1), ("林", 1.0),
    ("何", 1.0), ("郭", 1.0), ("马", 1.0), ("罗", 0.8), ("梁", 0.8), ("宋", 0.7), ("郑", 0.7), ("谢", 0.6),
    ("韩", 0.6), ("唐", 0.6), ("冯", 0.6), ("于", 0.5), ("董", 0.5), ("萧", 0.4), ("程", 0.4), ("曹", 0.4),
    ("袁", 0.4), ("邓", 0.4), ("许", 0.4), ("傅", 0.4), ("沈", 0.4), ("曾", 0.4), ("彭", 0.3), ("吕", 0.3),
    ("苏", 0.3), ("卢", 0.3), ("蒋", 0.3), ("蔡", 0.3), ("贾", 0.3), ("丁", 0.3), ("魏", 0.3), ("薛", 0.3),
    ("叶", 0.3), ("阎", 0.3), ("雷", 0.3), ("侯", 0.2), ("田", 0.2), ("史", 0.2), ("党", 0.2), ("屈", 0.2),
    ("杜", 0.2), ("姚", 0.2), ("任", 0.2), ("姜", 0.2), ("段", 0.2), ("武", 0.2), ("白", 0.2), ("寇", 0.1),
]

# Given-name characters by generation (born before 1965, 1965–1989, from 1990) and sex.
_GIVEN: dict[tuple[str, bool], str] = {
    ("old", True): "建国军民德福贵生明华忠林山海荣全发成文志胜兴仁义礼安宝根平有春满喜云",
    ("old", False): "秀兰英桂芳珍玉凤翠花梅荣淑琴霞香娥爱莲巧菊彩改芬草叶云",
    ("mid", True): "伟强勇军斌刚涛峰辉鹏超杰波东卫宏俊龙磊亮鑫锋红利晓永江",
    ("mid", False): "丽娟敏静燕艳红霞玲萍琳娜慧洁莉晓蓉雅倩婷颖芳琼莹雪丹",
    ("young", True): "浩宇轩博文子豪然睿泽晨阳皓天翔一凡俊杰思远鸿铭哲瑞凯",
    ("young", False): "欣怡梓涵萱雨诗琪佳悦可馨若语彤瑶婉晴然心钰依菲雯思璐",
}


def _generation(birth_year: int) -> str:
    if birth_year < 1965:
        return "old"
    if birth_year < 1990:
        return "mid"
    return "young"


def surname(rng: random.Random) -> str:
    return rng.choices([s for s, _w in SURNAMES], weights=[w for _s, w in SURNAMES])[0]


def given_name(rng: random.Random, male: bool, birth_year: int) -> str:
    chars = _GIVEN[(_generation(birth_year), male)]
    if rng.random() < 0.18:
        return rng.choice(chars)
    first = rng.choice(chars)
    second = rng.choice(chars)
    while second == first:
        second = rng.choice(chars)
    return first + second


def person_name(rng: random.Random, male: bool, birth_year: int) -> str:
    return surname(rng) + given_name(rng, male, birth_year)
