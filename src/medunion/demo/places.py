"""The demo's places: real division codes for the province, cities and counties; townships and
villages generated under the county's code with names built from place-name syllables."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# (12-digit statistical division code, name, English name, parent code). python-stdnum knows
# every 6-digit prefix below as a county-level division, so ID numbers issued there validate.
PROVINCE = ("610000000000", "陕西省", "Shaanxi Province", None)
CITY = ("610500000000", "渭南市", "Weinan City", PROVINCE[0])
COUNTY = ("610528000000", "富平县", "Fuping County", CITY[0])
CAPITAL = ("610100000000", "西安市", "Xi'an City", PROVINCE[0])
CAPITAL_DISTRICT = ("610113000000", "雁塔区", "Yanta District", CAPITAL[0])
COUNTY6 = COUNTY[0][:6]
COUNTY_POPULATION = 810_000

# Other counties of the city whose hospitals belong to the breast-disease alliance.
PARTNER_COUNTIES = [
    ("610526000000", "蒲城县", "Pucheng County", CITY[0], 760_000),
    ("610523000000", "大荔县", "Dali County", CITY[0], 710_000),
    ("610525000000", "澄城县", "Chengcheng County", CITY[0], 400_000),
    ("610527000000", "白水县", "Baishui County", CITY[0], 290_000),
    ("610581000000", "韩城市", "Hancheng City", CITY[0], 400_000),
]

# Place-name syllables (character, pinyin).
_FIRST = [
    ("东", "dong"), ("西", "xi"), ("南", "nan"), ("北", "bei"), ("上", "shang"), ("下", "xia"), ("前", "qian"),
    ("后", "hou"), ("大", "da"), ("小", "xiao"), ("新", "xin"), ("老", "lao"), ("中", "zhong"), ("高", "gao"),
    ("红", "hong"), ("青", "qing"), ("白", "bai"), ("石", "shi"), ("柳", "liu"), ("杨", "yang"), ("槐", "huai"),
    ("桃", "tao"), ("杏", "xing"), ("枣", "zao"), ("梅", "mei"), ("马", "ma"), ("龙", "long"), ("凤", "feng"),
    ("长", "chang"), ("永", "yong"), ("太", "tai"), ("安", "an"), ("和", "he"), ("义", "yi"), ("庄", "zhuang"),
    ("宫", "gong"), ("齐", "qi"), ("曹", "cao"), ("淡", "dan"), ("美", "mei"), ("留", "liu"), ("觅", "mi"),
    ("金", "jin"), ("银", "yin"), ("富", "fu"), ("吉", "ji"), ("宝", "bao"), ("瓦", "wa"), ("盘", "pan"),
]
_SECOND = [
    ("庄", "zhuang"), ("堡", "bao"), ("沟", "gou"), ("塬", "yuan"), ("坡", "po"), ("河", "he"), ("寨", "zhai"),
    ("桥", "qiao"), ("店", "dian"), ("营", "ying"), ("坊", "fang"), ("屯", "tun"), ("峪", "yu"), ("湾", "wan"),
    ("岭", "ling"), ("头", "tou"), ("里", "li"), ("阳", "yang"), ("平", "ping"), ("兴", "xing"), ("丰", "feng"),
    ("泉", "quan"), ("城", "cheng"), ("集", "ji"), ("台", "tai"), ("渠", "qu"), ("园", "yuan"), ("林", "lin"),
]
_CLAN = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"), ("赵", "zhao"),
    ("周", "zhou"), ("吴", "wu"), ("孙", "sun"), ("马", "ma"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("田", "tian"), ("雷", "lei"), ("党", "dang"), ("屈", "qu"), ("贾", "jia"), ("薛", "xue"), ("宋", "song"),
    ("韩", "han"), ("冯", "feng"), ("杜", "du"), ("姚", "yao"), ("侯", "hou"), ("段", "duan"), ("魏", "wei"),
]


def pinyin_word(syllables: list[str]) -> str:
    """Join pinyin syllables into one capitalised word, with an apostrophe before a syllable
    that starts with a, o or e (Xi'an, Chang'an)."""
    word = ""
    for s in syllables:
        if word and s[:1] in "aoe":
            word += "'"
        word += s
    return word[:1].upper() + word[1:]


@dataclass
class VillagePlan:
    code: str
    name: str
    name_en: str
    population: int


@dataclass
class TownshipPlan:
    code: str
    name: str
    name_en: str
    kind: str  # subdistrict, town, township
    population: int
    villages: list[VillagePlan] = field(default_factory=list)


class _Names:
    """Unique place names across the county."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        # Taken from the start: the county seat, and names that would read as a province or city.
        self.used: set[str] = {"城关", "吉林", "南阳", "安阳", "东营", "白城", "长城", "龙岩", "金城"}

    def township(self) -> tuple[str, str]:
        while True:
            (a, pa), (b, pb) = self.rng.choice(_FIRST), self.rng.choice(_SECOND)
            if a != b and a + b not in self.used:
                self.used.add(a + b)
                return a + b, pinyin_word([pa, pb])

    def village(self) -> tuple[str, str]:
        while True:
            roll = self.rng.random()
            if roll < 0.35:
                (c, pc), (b, pb) = self.rng.choice(_CLAN), self.rng.choice(_SECOND)
                parts = [(c, pc), ("家", "jia")] + ([(b, pb)] if roll < 0.15 else [])
            else:
                parts = [self.rng.choice(_FIRST), self.rng.choice(_SECOND)]
            name = "".join(p for p, _py in parts)
            if parts[0][0] != parts[-1][0] and name not in self.used:
                self.used.add(name)
                return name, pinyin_word([py for _p, py in parts])


def _split(rng: random.Random, total: int, weights: list[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights``; the parts add up exactly."""
    s = sum(weights)
    parts = [int(total * w / s) for w in weights]
    parts[0] += total - sum(parts)
    return parts


def plan_townships(rng: random.Random, count: int = 21, subdistricts: int = 2, xiang: int = 3) -> list[TownshipPlan]:
    """21 townships of the county: subdistricts (…街道, code 0xx), towns (…镇, 1xx) and
    townships (…乡, 2xx); each with 10–20 villages (…村, codes 2xx under the township)."""
    names = _Names(rng)
    plans: list[TownshipPlan] = []
    towns = count - subdistricts - xiang
    for i in range(count):
        if i < subdistricts:
            kind, serial = "subdistrict", 1 + i
            short, short_en = ("城关", "Chengguan") if i == 0 else names.township()
            name, name_en = f"{short}街道", f"{short_en} Subdistrict"
        elif i < subdistricts + towns:
            kind, serial = "town", 100 + i - subdistricts + 1
            short, short_en = names.township()
            name, name_en = f"{short}镇", f"{short_en} Town"
        else:
            kind, serial = "township", 200 + i - subdistricts - towns + 1
            short, short_en = names.township()
            name, name_en = f"{short}乡", f"{short_en} Township"
        plans.append(TownshipPlan(code=f"{COUNTY6}{serial:03d}000", name=name, name_en=name_en, kind=kind,
                                  population=0))
    weights = [rng.uniform(2.0, 3.0) if p.kind == "subdistrict" else
               rng.uniform(0.8, 1.6) if p.kind == "town" else rng.uniform(0.4, 0.7) for p in plans]
    for plan, population in zip(plans, _split(rng, COUNTY_POPULATION, weights), strict=True):
        plan.population = population
        n = {"subdistrict": rng.randint(14, 18), "town": rng.randint(14, 20), "township": rng.randint(10, 13)}[plan.kind]
        village_weights = [rng.uniform(0.5, 1.5) for _ in range(n)]
        for j, vp in enumerate(_split(rng, population, village_weights)):
            vname, vname_en = names.village()
            plan.villages.append(VillagePlan(code=f"{plan.code[:9]}{201 + j:03d}", name=f"{vname}村",
                                             name_en=f"{vname_en} Village", population=vp))
    return plans
