"""A province-sized generated data set on top of the demo consortium (issue 6 §1): ``medunion
generate --scale province|small|tiny`` or ``medunion demo --scale …``. See ``build.generate``;
``sample`` picks accounts and objects for the benchmarks."""

from .build import GenerateReport, check_empty, generate
from .scale import SCALES, Scale

__all__ = ["SCALES", "GenerateReport", "Scale", "check_empty", "generate"]
